"""Garbage collection is one sweep at a time across every node sharing a PostgreSQL database:
each sweep (`reliquary gc`, and every server's hourly one) holds the session advisory lock
`SWEEP_LOCK_KEY` (store-postgres) while it runs, and a sweep that finds it taken does nothing."""

from __future__ import annotations

import subprocess
import time

from support import blob_files, make_client, publish_asset, reliquary_binary, run_gc, server_env, server_storage, \
    stop_cleanly, unique

SWEEP_LOCK_KEY = 0x0052_454C_4951_4743  # "RELIQGC", reliquary_store_postgres::SWEEP_LOCK_KEY


def test_a_sweep_while_another_holds_the_lock_does_nothing(tmp_path):
    with server_storage("postgres", tmp_path) as storage:
        server = storage.start()
        try:
            client = make_client(server.url)
            domain = unique("gc")
            client.create_domain(domain=domain)
            client.create_repository(domain=domain, repository="repo")
            publish_asset(client, domain, "repo", "pkg", "1.0.0", "a.bin", b"garbage soon" * 100)
            client.delete_package_versions(domain=domain, repository="repo", format="generic", namespace="ns",
                                           package="pkg", versions=["1.0.0"])
            before = blob_files(storage.data_dir)
            assert before, "the blob is on disk, unreferenced"

            # Another node's sweep holds the lock (here: a psql session taking it).
            holder = subprocess.Popen(["psql", storage.database_url, "-q"], stdin=subprocess.PIPE, text=True)
            try:
                assert holder.stdin is not None
                holder.stdin.write(f"SELECT pg_advisory_lock({SWEEP_LOCK_KEY});\n")
                holder.stdin.flush()
                time.sleep(1)
                args = [str(reliquary_binary()), "gc", "--data-dir", str(storage.data_dir), "--database-url",
                        storage.database_url, "--grace-seconds", "0"]
                skipped = subprocess.run(args, env=server_env(), capture_output=True, text=True, timeout=120,
                                         stdin=subprocess.DEVNULL)
                assert skipped.returncode == 0, skipped.stderr
                assert "another garbage sweep is running" in skipped.stdout, skipped.stdout
                assert blob_files(storage.data_dir) == before, "nothing deleted while another sweep runs"
            finally:
                holder.stdin.close()
                holder.wait(timeout=30)
            assert run_gc(server) >= 1, "once the lock is free, the sweep runs"
            assert blob_files(storage.data_dir) != before
        finally:
            stop_cleanly(server)
