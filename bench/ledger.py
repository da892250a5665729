r"""Ledger benchmark: postings per second for transfers on the real posting service.

Run (PostgreSQL; the database must exist, it is migrated first):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wallet_bench \
        python -m bench.ledger --transfers 2000 --batch 100 --threads 4

It runs as production does (config.settings.production: DEBUG off, the Redis
channel layer and cache in `--redis-db`, which it flushes first), with throwaway
values for the production secrets it is not given.

It creates a benchmark asset and `--users` funded users, then measures:
  1. `ledger_post`, one transfer journal per transaction (2 entries each);
  2. `transfer_create`, the full service (Transfer row + journal + audit event);
  3. `ledger_post_batch`, `--batch` transfer journals per transaction;
  4. `ledger_post` from `--threads` threads at once (row locks, pk lock order).
A "posting" is one transfer journal (two entries). The ledger is verified at the
end (every invariant of `manage.py verify_ledger`).

`--phases batch --batch 1000 --repeat 5` times only phase 3, five times (the
figure of issue 24: postings per second at 1,000 per transaction);
`--profile FILE` runs phase 3 under cProfile, writes the stats to FILE and prints
the top of them by own time.

To measure another checkout's ledger with this harness (old and new side by
side), run it from that checkout's root so its code is imported:

    cd /path/to/old && python -c "import runpy; runpy.run_path(
        '/path/to/new/bench/ledger.py', run_name='__main__')" --phases batch
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import threading
import time
import uuid


def _setup(redis_db: int) -> None:
    from cryptography.fernet import Fernet

    redis = f"redis://127.0.0.1:6379/{redis_db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    os.environ.setdefault("DJANGO_SECRET_KEY", uuid.uuid4().hex * 2)
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1")
    os.environ.setdefault("KYC_ENCRYPTION_KEY", Fernet.generate_key().decode())
    os.environ.setdefault("REDIS_URL", redis)
    # the KYC approvals of the setup send emails: not part of what is measured
    os.environ.setdefault(
        "EMAIL_BACKEND", "django.core.mail.backends.dummy.EmailBackend"
    )
    os.environ.setdefault("CELERY_BROKER_URL", redis)
    subprocess.run(
        ["redis-cli", "-n", str(redis_db), "flushdb"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


PHASES = ("single", "service", "batch", "threads")


def main() -> None:
    title, _, rest = __doc__.partition("\n")
    parser = argparse.ArgumentParser(
        description=title,
        epilog=rest,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--transfers", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated phases to run, of {','.join(PHASES)} (default all)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of the batch phase (default 1)"
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="run the batch phase under cProfile and write its stats to FILE",
    )
    parser.add_argument(
        "--redis-db",
        type=int,
        default=int(os.environ.get("BENCH_REDIS_DB", "9")),
        help="the Redis database the bench owns (flushed first)",
    )
    args = parser.parse_args()
    phases = {phase.strip() for phase in args.phases.split(",") if phase.strip()}
    if unknown := phases - set(PHASES):
        parser.error(f"--phases: unknown {sorted(unknown)}; choose from {PHASES}")
    if args.repeat < 1:
        parser.error("--repeat: must be at least 1")
    _setup(args.redis_db)

    import django
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from wallet.ledger import (
        JournalSpec,
        Posting,
        account_ensure,
        ledger_post,
        ledger_post_batch,
    )
    from wallet.models import Account, Asset
    from wallet.services import transfer_create
    from wallet.verification import ledger_problems

    rng = random.Random(args.seed)
    run = uuid.uuid4().hex[:8]
    asset, _ = Asset.objects.get_or_create(
        code="BENCH", defaults={"name": "Bench", "decimals": 2, "kind": "fiat"}
    )
    external = account_ensure(asset=asset, kind=Account.Kind.EXTERNAL)
    users, accounts = [], []
    for i in range(args.users):
        user, _ = User.objects.get_or_create(
            email=f"bench{i}@bench.local",
            # verified: transfers below need KYC, and KYC a verified address
            defaults={"full_name": f"Bench {i}", "email_verified_at": timezone.now()},
        )
        users.append(user)
        accounts.append(
            account_ensure(owner=user, asset=asset, kind=Account.Kind.AVAILABLE)
        )
    ledger_post_batch(
        journals=[
            JournalSpec(
                "deposit",
                f"bench-{run}-fund-{i}",
                [Posting(external, -(10**12)), Posting(account, 10**12)],
            )
            for i, account in enumerate(accounts)
        ]
    )

    def pair():
        a, b = rng.sample(range(len(accounts)), 2)
        return accounts[a], accounts[b], rng.randint(1, 10_000)

    from bench.stack import own_backends_cpu
    from config.memory import gc_tune_long_lived

    database = connection.settings_dict["NAME"]
    mark_cpu = [time.process_time()]
    mark_pg = [own_backends_cpu(database)]

    def report(label: str, count: int, seconds: float) -> None:
        """A phase's rate and the cores it kept busy: this process and the
        PostgreSQL backends of the bench's database (not the machine's others)."""
        cpu, pg = time.process_time(), own_backends_cpu(database)
        pg_spent = sum(
            max(0.0, used - mark_pg[0].get(pid, 0.0)) for pid, used in pg.items()
        )
        print(
            f"{label:<44} {count:>7} postings {seconds:8.2f} s "
            f"{count / seconds:10.0f} postings/s {2 * count / seconds:10.0f} entries/s"
            f"  (cores: bench {(cpu - mark_cpu[0]) / seconds:.2f}, "
            f"PostgreSQL {pg_spent / seconds:.2f}; load {os.getloadavg()[0]:.1f})"
        )
        mark_cpu[0], mark_pg[0] = time.process_time(), own_backends_cpu(database)

    with connection.cursor() as cursor:
        cursor.execute("select version()")
        db_version = cursor.fetchone()[0].split(" on ")[0]
        sync = ""
        if connection.vendor == "postgresql":
            cursor.execute("show synchronous_commit")
            sync = f", synchronous_commit={cursor.fetchone()[0]}"
    print(
        f"# bench.ledger: {connection.vendor} ({db_version}{sync}), Django "
        f"{django.get_version()}, Python {platform.python_version()}, "
        f"settings {os.environ['DJANGO_SETTINGS_MODULE']} (DEBUG {settings.DEBUG}), "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
        f"{args.users} users, run {run}"
    )

    n = args.transfers
    if "single" in phases:
        start = time.perf_counter()
        for i in range(n):
            src, dst, amount = pair()
            ledger_post(
                kind="transfer",
                reference=f"bench-{run}-single-{i}",
                postings=[Posting(src, -amount), Posting(dst, amount)],
            )
        report("ledger_post, 1 per transaction", n, time.perf_counter() - start)

    if "service" in phases:
        # Transfers need approved KYC on both sides: approve the bench users
        # once, through the real review flow, outside the timed part.
        from accounts.roles import Role
        from accounts.testing import make_user
        from kyc.selectors import kyc_is_verified
        from kyc.testing import kyc_approve

        reviewer = make_user(
            email=f"bench-reviewer-{run}@bench.local",
            roles=(Role.KYC_REVIEWER,),
            is_staff=True,
        )
        for user in users:
            if not kyc_is_verified(user=user):
                kyc_approve(user=user, reviewer=reviewer)

        m = max(n // 4, 1)
        start = time.perf_counter()
        for _ in range(m):
            a, b = rng.sample(range(len(users)), 2)
            transfer_create(
                sender=users[a], to_email=users[b].email, asset=asset, amount=1
            )
        report(
            "transfer_create (full service), 1 per txn", m, time.perf_counter() - start
        )

    def batch_phase(label: str, note: str = "") -> None:
        """`ledger_post_batch` on `n` transfers, `--batch` per call. The specs
        are built before the clock starts: building them is the caller's work
        (the matcher's, from its trades), not the posting service's."""
        batches = []
        for first in range(0, n, args.batch):
            specs = []
            for index in range(first, min(first + args.batch, n)):
                src, dst, amount = pair()
                specs.append(
                    JournalSpec(
                        "transfer",
                        f"bench-{run}-{label}-{index}",
                        [Posting(src, -amount), Posting(dst, amount)],
                    )
                )
            batches.append(specs)
        # as in the worker and the servers that post (config/memory.py); the
        # specs, the harness's, are frozen with what the process loaded
        gc_tune_long_lived()
        mark_cpu[0], mark_pg[0] = time.process_time(), own_backends_cpu(database)
        start = time.perf_counter()
        for specs in batches:
            ledger_post_batch(journals=specs)
        report(
            f"ledger_post_batch, {args.batch} per transaction{note}",
            n,
            time.perf_counter() - start,
        )

    if "batch" in phases:
        for repeat in range(args.repeat):
            if args.profile and repeat == 0:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.runcall(batch_phase, f"batch{repeat}", " (profiled)")
                profiler.dump_stats(args.profile)
                print(f"# profile of the batch phase (under cProfile): {args.profile}")
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            else:
                batch_phase(f"batch{repeat}")

    if "threads" in phases and args.threads > 1:
        per_thread = n // args.threads
        errors: list[BaseException] = []

        def worker(t: int) -> None:
            local = random.Random(args.seed + t)
            try:
                for i in range(per_thread):
                    a, b = local.sample(range(len(accounts)), 2)
                    amount = local.randint(1, 10_000)
                    ledger_post(
                        kind="transfer",
                        reference=f"bench-{run}-thread-{t}-{i}",
                        postings=[
                            Posting(accounts[a], -amount),
                            Posting(accounts[b], amount),
                        ],
                    )
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                connection.close()

        threads = [
            threading.Thread(target=worker, args=(t,)) for t in range(args.threads)
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        report(
            f"ledger_post, 1 per txn, {args.threads} threads",
            per_thread * args.threads,
            time.perf_counter() - start,
        )
        if errors:
            print(f"# {len(errors)} thread error(s): {errors[0]!r}")

    start = time.perf_counter()
    problems = ledger_problems()
    print(
        f"# verify_ledger: {'ok' if not problems else problems[:5]} "
        f"({time.perf_counter() - start:.2f} s)"
    )


if __name__ == "__main__":
    main()
