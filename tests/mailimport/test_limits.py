"""Hostile input: zip bombs, lying zip headers, giant messages and address lists. Peak memory is
read from a fresh `flask import-mail` process; the limits are set low where that proves the
same thing faster."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from tests.mailimport import hostile
from tests.mailimport.mail import eml, mbox, thread, zipped
from tests.mailimport.test_cli_and_upload import JOB_RE, acme, count_messages, imported, invoke, upload  # noqa: F401
from webapp.clock import utcnow
from webapp.config import ConfigError, load_config
from webapp.mailimport import background, importer
from webapp.mailimport.background import runner
from webapp.mailimport.parse import _first_addresses, parse_message
from webapp.models import MailImportJob, Message, MessageFact

MB = 1024 * 1024
LIMIT_MB = 300


def test_a_zipped_mbox_bomb_stays_small_and_skips_only_the_giant(app_config, db, acme, tmp_path):
    path = tmp_path / "bomb.zip"
    hostile.mbox_bomb_zip(path, 100 * MB)  # 100 MB of mail in a zip of about a third of a MB
    done, peak = hostile.import_in_child(app_config["DATABASE_URL"], tmp_path / "instance", path)
    assert done.returncode == 0, done.stderr
    assert "Imported 4 of 5 messages from bomb.zip" in done.stdout
    assert "larger than the 25 MB a message may be (MAIL_IMPORT_MAX_MESSAGE_BYTES)  (e.g. archive.mbox, message 3)" in done.stdout
    assert peak < LIMIT_MB, f"peak {peak:.0f} MB"
    assert count_messages(db) == 4


def test_a_zip_that_lies_about_its_sizes_is_refused_whole(app_config, db, acme, tmp_path):
    path = tmp_path / "lying.zip"
    hostile.lying_zip(path, 30 * MB, declared=1000)
    done, peak = hostile.import_in_child(app_config["DATABASE_URL"], tmp_path / "instance", path)
    assert done.returncode != 0
    assert "lying.zip: mail/huge.eml cannot be unpacked" in done.stderr and "Nothing was imported" in done.stderr
    assert peak < LIMIT_MB
    assert count_messages(db) == 0


def test_200000_cc_addresses_keep_the_first_thousand_and_say_how_many_went(app_config, db, acme, tmp_path):
    path = tmp_path / "cc.eml"
    path.write_bytes(hostile.many_cc(200_000))
    done, peak = hostile.import_in_child(app_config["DATABASE_URL"], tmp_path / "instance", path)
    assert done.returncode == 0, done.stderr
    assert "Imported 1 of 1 messages" in done.stdout
    assert "Addresses left out of headers over the limit: 199,000." in done.stdout
    assert "the first 1,000 kept (MAIL_IMPORT_MAX_ADDRESSES_PER_HEADER)" in done.stdout
    assert peak < LIMIT_MB
    with db() as s:
        [message] = s.exec(select(Message)).all()
    cc = message.cc_addresses.split(", ")
    assert len(cc) == 1000 and cc[0] == "person0@client0.test" and cc[-1] == "person999@client29.test"


def test_a_realistic_archive_stays_far_below_the_limit(app_config, db, acme, tmp_path):
    from benchmarks.import_mail_benchmark import write_mbox

    path = tmp_path / "archive.mbox"
    write_mbox(path, 3000)
    done, peak = hostile.import_in_child(app_config["DATABASE_URL"], tmp_path / "instance", path)
    assert done.returncode == 0, done.stderr
    assert "Imported 3000 of 3000" in done.stdout
    assert peak < LIMIT_MB, f"peak {peak:.0f} MB"  # about 120 MB of it is the app itself


def test_the_total_unpacked_limit_refuses_before_storing_anything(app, db, acme, tmp_path):
    app.config["MAIL_IMPORT_MAX_UNPACKED_BYTES"] = 2 * MB
    path = tmp_path / "many.zip"
    files = {f"m/{i:03}.eml": eml(message_id=f"<m{i}@x>", body="x" * 300_000) for i in range(10)}
    path.write_bytes(zipped(files))  # 3 MB of mail; the first messages alone fit the limit
    result = invoke(app, path, "--workspace", "Acme")
    assert result.exit_code != 0
    assert "many.zip: holds more than the 2 MB of mail one import may read (MAIL_IMPORT_MAX_UNPACKED_BYTES)." in result.output
    assert count_messages(db) == 0


def test_a_huge_message_in_an_mbox_or_alone_is_skipped_with_its_reason(app, db, acme, tmp_path):
    app.config["MAIL_IMPORT_MAX_MESSAGE_BYTES"] = 1 * MB
    giant = b"".join(hostile.big_message(3 * MB))
    path = tmp_path / "inbox.mbox"
    msgs = thread()
    path.write_bytes(mbox(msgs[0], giant, *msgs[1:]))
    result = invoke(app, path, "--workspace", "Acme")
    assert result.exit_code == 0, result.output
    assert "Imported 4 of 5" in result.output
    assert "larger than the 1 MB a message may be (MAIL_IMPORT_MAX_MESSAGE_BYTES)  (e.g. inbox.mbox, message 2)" in result.output
    alone = tmp_path / "giant.eml"
    alone.write_bytes(giant)
    result = invoke(app, alone, "--workspace", "Acme")
    assert result.exit_code == 0 and "Imported 0 of 1" in result.output and "giant.eml" in result.output
    assert count_messages(db) == 4


def test_the_mbox_stream_splits_like_the_mailbox_module(app, db, acme, tmp_path):
    # "From " inside a line longer than a read chunk is not a separator; ">From " unquotes.
    body = "A" * 65_536 + "From inside a long line\n>From the archive\n"
    path = tmp_path / "x.mbox"
    path.write_bytes(mbox(eml(body=body, message_id="<long@x>")))
    result = invoke(app, path, "--workspace", "Acme")
    assert "Imported 1 of 1" in result.output, result.output
    with db() as s:
        [message] = s.exec(select(Message)).all()
    assert message.body_text.endswith("AFrom inside a long line\nFrom the archive")


def test_an_address_list_is_cut_at_top_level_commas_only():
    value = '"Doe, Jane" <jane@x.test>, (a, comment) bob@x.test, <c,d@x.test>, last@x.test'
    assert _first_addresses(value, 2) == ('"Doe, Jane" <jane@x.test>, (a, comment) bob@x.test', 2)
    assert _first_addresses(value, 4) == (value, 0)
    parsed = parse_message(eml(to=value), max_addresses=1)
    assert parsed.to == [("jane@x.test", "Doe, Jane")] and parsed.addresses_dropped == 3


def test_bad_limit_settings_are_refused_by_name(monkeypatch, tmp_path):
    monkeypatch.setenv("MAIL_IMPORT_MAX_MESSAGE_BYTES", "lots")
    with pytest.raises(ConfigError, match="MAIL_IMPORT_MAX_MESSAGE_BYTES must be a whole number of bytes above zero"):
        load_config(str(tmp_path), {"ENV_NAME": "test"})
    monkeypatch.setenv("MAIL_IMPORT_MAX_MESSAGE_BYTES", "1048576")
    monkeypatch.setenv("MAIL_IMPORT_MAX_ADDRESSES_PER_HEADER", "0")
    with pytest.raises(ConfigError, match="MAIL_IMPORT_MAX_ADDRESSES_PER_HEADER"):
        load_config(str(tmp_path), {"ENV_NAME": "test"})


# -- the background job --------------------------------------------------------------------


def test_an_upload_over_the_unpacked_limit_fails_in_the_job_and_stores_nothing(app, admin_client, db, acme):
    app.config["MAIL_IMPORT_MAX_UNPACKED_BYTES"] = 1 * MB
    files = {f"m/{i}.eml": eml(message_id=f"<m{i}@x>", body="y" * 400_000) for i in range(4)}
    page = imported(admin_client, zipped(files), "big.zip")
    assert "big.zip: holds more than the 1 MB of mail one import may read (MAIL_IMPORT_MAX_UNPACKED_BYTES). Nothing was imported." in page
    assert count_messages(db) == 0
    with db() as s:
        [job] = s.exec(select(MailImportJob)).all()
    assert job.status == "failed" and not Path(job.stored_path).exists()


def test_the_job_commits_whole_batches_and_counts_as_it_goes(app, admin_client, db, acme, monkeypatch):
    monkeypatch.setattr(importer, "BATCH", 2)
    seen_counts = []
    real = background._Heartbeat._write

    def spy(self, conn, summary):
        real(self, conn, summary)
        if summary is not None:
            seen_counts.append((summary.seen, summary.imported))

    monkeypatch.setattr(background._Heartbeat, "_write", spy)
    page = imported(admin_client, mbox(*thread()), "inbox.mbox")
    assert "Imported 4 of 4 messages" in page
    assert seen_counts[:2] == [(2, 2), (4, 4)]
    with db() as s:
        [job] = s.exec(select(MailImportJob)).all()
        facts = s.exec(select(MessageFact)).all()
    assert (job.status, job.seen, job.imported, job.skipped) == ("done", 4, 4, 0)
    assert job.total_bytes == job.unpacked_bytes > 0
    assert len(facts) == 4  # analytics facts are refreshed after the job, as after the CLI


def test_a_second_upload_waits_for_the_first_and_bad_files_are_refused_at_once(app, admin_client, db, acme):
    with db() as s:
        s.add(MailImportJob(workspace_id=acme, filename="a.mbox", stored_path="/nowhere", status="running",
                            owner=background.owner(), heartbeat_at=utcnow()))
    response = upload(admin_client, mbox(*thread()), "inbox.mbox")
    assert response.status_code == 409 and background.ALREADY_RUNNING in response.get_data(as_text=True)
    with db() as s:
        s.exec(select(MailImportJob)).one().status = "done"
    response = upload(admin_client, b"", "empty.eml")
    assert response.status_code == 422 and "empty.eml: the file is empty. Nothing was imported." in response.get_data(as_text=True)
    assert count_messages(db) == 0
    assert list((Path(app.instance_path) / background.UPLOAD_FOLDER).iterdir()) == []


def _dead_job(db, acme, app, data: bytes | None, *, status="running") -> int:
    folder = Path(app.instance_path) / background.UPLOAD_FOLDER / "left-behind"
    folder.mkdir(parents=True)
    path = folder / "inbox.mbox"
    if data is not None:
        path.write_bytes(data)
    with db() as s:
        job = MailImportJob(workspace_id=acme, filename="inbox.mbox", stored_path=str(path), status=status,
                            owner="gone-host:4242:deadbeef", seen=2, imported=2,
                            heartbeat_at=utcnow() - background.STALE_AFTER - timedelta(seconds=1))
        s.add(job)
        s.flush()
        return job.id


def test_a_job_left_running_by_a_dead_process_is_resumed_at_the_next_start(app, db, acme):
    msgs = thread()
    # The dead process had stored the first two messages.
    invoke_path = Path(app.instance_path) / "first.mbox"
    invoke_path.parent.mkdir(parents=True, exist_ok=True)
    invoke_path.write_bytes(mbox(*msgs[:2]))
    assert invoke(app, invoke_path, "--workspace", "Acme").exit_code == 0
    job_id = _dead_job(db, acme, app, mbox(*msgs))
    background.start(app)
    runner(app).wait(job_id, timeout=60)
    with db() as s:
        job = s.get(MailImportJob, job_id)
    assert job.status == "done" and job.owner == background.owner()
    assert (job.summary["imported"], job.summary["skipped"]) == (2, {"duplicate (already imported)": 2})
    assert count_messages(db) == 4


def test_a_dead_job_whose_file_is_gone_is_marked_interrupted_when_polled(app, admin_client, db, acme):
    job_id = _dead_job(db, acme, app, None, status="queued")
    fragment = admin_client.htmx_get(f"/settings/import-mail/jobs/{job_id}").get_data(as_text=True)
    assert background.FILE_GONE in fragment and "hx-trigger" not in fragment
    with db() as s:
        assert s.get(MailImportJob, job_id).status == "interrupted"


def test_a_fresh_job_of_a_live_process_is_left_alone(app, db, acme):
    job_id = _dead_job(db, acme, app, mbox(*thread()))
    with db() as s:
        s.get(MailImportJob, job_id).heartbeat_at = utcnow()
    assert background.resume_stale(app) == []
    with db() as s:
        assert s.get(MailImportJob, job_id).status == "running"


def test_another_workspaces_job_is_not_shown(app, admin_client, db):
    from webapp.auth.services import get_or_create_workspace

    with db() as s:
        other, _ = get_or_create_workspace(s, "Other")
        s.flush()
        job = MailImportJob(workspace_id=other.id, filename="x.mbox", stored_path="/x", status="done")
        s.add(job)
        s.flush()
        job_id = job.id
    assert admin_client.htmx_get(f"/settings/import-mail/jobs/{job_id}").status_code == 404
