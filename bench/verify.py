"""Domain verification throughput: the worker re-checks N pending exact domains against a real DNS
server on loopback (the one the tests use, in a process of its own so it does not share the
worker's interpreter), and this prints domains/s and peak memory.

Every domain gets the records its own `dns_records` ask for (ownership TXT and routing CNAME), so
every check succeeds and is stored (`pending` → `verified`). The database is a fresh SQLite file,
or a scratch PostgreSQL database with --postgresql. Target (issue "Domains"): ≥ 500 domains/s.

    python bench/verify.py [--domains 10000] [--organizations 100] [--postgresql]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from multiprocessing import Queue
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.dns_server

from hostplane.api.container import Container  # noqa: E402
from hostplane.db.migrate import upgrade  # noqa: E402
from hostplane.db.scratch import scratch_database  # noqa: E402
from hostplane.domains import jobs  # noqa: E402
from hostplane.domains.models import CustomDomain  # noqa: E402
from hostplane.domains.verification import exact_records  # noqa: E402
from hostplane.settings import Settings  # noqa: E402
from hostplane.tenancy.organizations import create_organization  # noqa: E402
from tests.dns_server import dns_server  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--organizations", type=int, default=100)
    parser.add_argument("--postgresql", action="store_true")
    args = parser.parse_args()
    with ExitStack() as stack:
        records: Queue = multiprocessing.Queue()
        ready: Queue = multiprocessing.Queue()
        server = multiprocessing.Process(target=serve_dns, args=(records, ready), daemon=True)
        server.start()
        stack.callback(server.terminate)
        zone, nameserver = RemoteZone(records), ready.get(timeout=30)
        url = stack.enter_context(scratch_database(PG_ADMIN, "hostplane_bench")) \
            if args.postgresql else None
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        settings = Settings(data_dir=data_dir, database_url=url, dns_nameservers=nameserver,
                            proxy_target="proxy.miosa.ai")
        container = Container.build(settings)
        upgrade(container.database)
        t0 = time.perf_counter()
        seed(container, zone, args.domains, args.organizations)
        records.put(None)
        ready.get(timeout=120)  # the server has every record
        print(f"database: {'PostgreSQL' if url else 'SQLite'}; seeded {args.domains} pending "
              f"domains in {args.organizations} organizations and their DNS records in "
              f"{time.perf_counter() - t0:.1f} s")
        start, passes, done = time.perf_counter(), 0, 0
        while True:
            checked = jobs.recheck_domains(container)
            passes += 1
            done += checked
            if checked == 0:
                break
        elapsed = time.perf_counter() - start
        with container.database.transaction(write=False) as session:
            verified = session.query(CustomDomain).filter_by(status="verified").count()
        container.stop()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"checked {done} domains in {elapsed:.1f} s over {passes} worker passes "
          f"(batch {jobs.BATCH}, {jobs.CONCURRENCY} domains asked at once): "
          f"{done / elapsed:.0f} domains/s; {verified} verified; peak RSS {peak_mib:.0f} MiB "
          f"(target >= 500 domains/s)")


class RemoteZone:
    """Records for the DNS server process, sent in batches."""

    def __init__(self, queue: Queue) -> None:
        self.queue, self.pending = queue, []

    def set(self, name: str, rdtype: str, value: str) -> None:
        self.pending.append((name, rdtype, value))
        if len(self.pending) >= 1000:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.queue.put(self.pending)
            self.pending = []


def serve_dns(records: Queue, ready: Queue) -> None:
    with dns_server() as (zone, nameserver):
        ready.put(nameserver)
        while (batch := records.get()) is not None:
            for name, rdtype, value in batch:
                zone.set(name, rdtype, value)
        ready.put("loaded")
        while True:
            time.sleep(3600)


def seed(container: Container, zone, domains: int, organizations: int) -> None:
    settings = container.settings
    per_org = -(-domains // organizations)
    made = 0
    now = container.clock.now()
    for _ in range(organizations):
        with container.database.transaction() as session:
            tenant = create_organization(session, name=f"Bench {uuid.uuid4().hex[:10]}",
                                         email=None, now=now)
            for _ in range(min(per_org, domains - made)):
                name = f"d{uuid.uuid4().hex[:12]}.bench-{tenant.slug}.com"
                session.add(CustomDomain(tenant_id=tenant.id, domain=name,
                                         target_type="deployment", target_id=str(uuid.uuid4()),
                                         status="pending", created_at=now))
                for r in exact_records(tenant.id, name, proxy=settings.proxy_target,
                                       challenge_label=settings.dns_challenge_label):
                    zone.set(r.name, r.type, f'"{r.value}"' if r.type == "TXT" else r.value + ".")
                made += 1
    zone.flush()


if __name__ == "__main__":
    main()
