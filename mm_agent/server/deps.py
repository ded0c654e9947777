"""The service's collaborators and the typed FastAPI dependencies that hand them to routes.

``Services`` is built once per app (``Services.build``) and kept on ``app.state.mm``; this
module is the only place that reads it back. Routes declare what they need as parameters:
``store: StoreDep``, ``p: PrincipalDep``, ``jobs: JobsDep``… and never touch ``app.state``.

The bearer check itself runs earlier, in the front door (``middleware.py``), before any body
is parsed; ``current_principal`` picks up the principal it found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from mm_agent.errors import NotAuthenticated
from mm_agent.local.state import Home

from .db.store import Store
from .services.approvals import ApprovalNotifier, ApprovalService
from .services.auth import Principal, authenticate, require_human
from .services.chains_served import LiveConfig, ServiceEngine
from .services.jobs.approval import ApprovalOpener
from .services.jobs.queue import JobQueue
from .services.jobs.runner import JobRunner
from .services.keys import MasterKey, frozen_guard
from .services.mailer import Mailer
from .services.policy import PolicyService, price_source
from .settings import ServerSettings

__all__ = [
    "ApprovalsDep",
    "EngineDep",
    "HumanPrincipalDep",
    "JobsDep",
    "KeysDep",
    "MailerDep",
    "PoliciesDep",
    "PrincipalDep",
    "Services",
    "ServicesDep",
    "SettingsDep",
    "StoreDep",
    "current_principal",
    "get_services",
]


@dataclass
class Services:
    """Everything the routes and the front door share; one per app."""

    settings: ServerSettings
    store: Store
    keys: MasterKey
    mailer: Mailer
    home: Home
    config: LiveConfig
    engine: ServiceEngine
    jobs: JobRunner
    policies: PolicyService
    approvals: ApprovalService

    @classmethod
    def build(cls, settings: ServerSettings) -> Services:
        """Open the data dir (store migrated, master key loaded) and wire the services: each
        gets its collaborators in its constructor."""
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        store = (Store(settings.database_url) if settings.database_url
                 else Store.for_data_dir(settings.data_dir))
        store.migrate()
        keys = MasterKey.load(settings.data_dir)
        keys.signing_guard = frozen_guard(store)  # a frozen wallet's key is never unwrapped
        mailer = Mailer(settings)
        # The engine reads chain settings (rpc.<id>, devnet.json, denylist) from the data dir;
        # operator RPCs and the followed devnet record: chains_served.py. config.json is
        # re-read when it changes.
        home = Home(settings.data_dir)
        config = LiveConfig(home)
        engine = ServiceEngine(home, config, rpc=settings.rpc, devnet_file=settings.devnet_file)
        queue = JobQueue(store, settings)
        # Mails (and pushes) the approval link whenever a job opens an approval.
        opener = ApprovalOpener(queue, store, settings, ApprovalNotifier(store, settings, mailer))
        policies = PolicyService(store, engine, price_source(home, engine), opener, queue)
        jobs = JobRunner(queue, engine, keys, config, policies, opener)
        approvals = ApprovalService(store, settings, keys, jobs)
        return cls(settings=settings, store=store, keys=keys, mailer=mailer, home=home,
                   config=config, engine=engine, jobs=jobs, policies=policies,
                   approvals=approvals)


# The getters are `async` although they do no I/O: FastAPI runs a sync dependency on the
# thread pool, a hop per dependency per request (six on a submission).
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.mm
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_settings(s: ServicesDep) -> ServerSettings:
    return s.settings


async def get_store(s: ServicesDep) -> Store:
    return s.store


async def get_keys(s: ServicesDep) -> MasterKey:
    return s.keys


async def get_mailer(s: ServicesDep) -> Mailer:
    return s.mailer


async def get_engine(s: ServicesDep) -> ServiceEngine:
    return s.engine


async def get_jobs(s: ServicesDep) -> JobRunner:
    return s.jobs


async def get_policies(s: ServicesDep) -> PolicyService:
    return s.policies


async def get_approvals(s: ServicesDep) -> ApprovalService:
    return s.approvals


SettingsDep = Annotated[ServerSettings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
KeysDep = Annotated[MasterKey, Depends(get_keys)]
MailerDep = Annotated[Mailer, Depends(get_mailer)]
EngineDep = Annotated[ServiceEngine, Depends(get_engine)]
JobsDep = Annotated[JobRunner, Depends(get_jobs)]
PoliciesDep = Annotated[PolicyService, Depends(get_policies)]
ApprovalsDep = Annotated[ApprovalService, Depends(get_approvals)]


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthenticated("Missing `Authorization: Bearer <token>` header.")
    return value.strip()


async def current_principal(request: Request) -> Principal:
    """The caller, from ``Authorization: Bearer <accessToken>``. The front door already
    checked the token before the body was read; reuse what it found."""
    checked = request.scope.get("state", {}).get("mm_principal")
    if isinstance(checked, Principal):
        return checked
    from starlette.concurrency import run_in_threadpool

    store = request.app.state.mm.store
    return await run_in_threadpool(authenticate, store, _bearer_token(request))


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def human_principal(p: PrincipalDep) -> Principal:
    """A principal with scope ``human`` (approving, broadening, keys); never a CLI token."""
    return require_human(p)


HumanPrincipalDep = Annotated[Principal, Depends(human_principal)]
