"""The wallet service's database: tables, migrations, connections."""
