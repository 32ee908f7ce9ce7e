"""The application form PDF (申请表): how long drawing it takes, beside the receipt page.

Submits the demo restaurant case (every matter, the fire check on the commitment route)
on a fresh SQLite database in this process, then times the applicant's PDF, a
department's slice PDF and the receipt page, each as a ratio to the receipt measured in
the same run. PDFs are drawn on request, never on the submit path: this is what a
download costs a worker.

    .venv/bin/python benchmarks/pdf.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT / "admin"), str(ROOT / "tests")]

from sqlmodel import Session, select  # noqa: E402

from onething.storage.models import Task  # noqa: E402
from onething.web.app import create_app  # noqa: E402
from test_web import fill, start, submit, upload_everything  # noqa: E402


def timed(client, url: str, repeat: int) -> float:
    """The median milliseconds of `repeat` GETs of url (each must answer 200)."""
    times = []
    for _ in range(repeat):
        begin = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - begin) * 1000)
        if response.status_code != 200:
            sys.exit(f"INVALID: {url} answered {response.status_code}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{folder}/b.db",
                          "UPLOAD_MAX_BYTES": 64 * 1024}, instance_path=Path(folder) / "i")
        client = app.test_client()
        draft = start(client)
        fill(client, draft)
        upload_everything(client, draft)
        receipt = submit(client, draft)
        with Session(app.extensions["onething.engine"]) as session:
            fire = session.exec(select(Task).where(Task.department_code == "sn-fire")).one()
        client.get(f"{receipt}/application.pdf")  # fonts loaded once per process
        baseline = timed(client, receipt, args.repeat)
        whole = timed(client, f"{receipt}/application.pdf", args.repeat)
        with app.app_context():
            from onething.cases.application import slice_pdf
            from onething.composer.compose import compose
            from onething.publishing.versions import bundle_of, get_version
            from onething.storage.models import Submission
            from onething.web.extensions import get_session

            with app.test_request_context():
                session = get_session()
                task = session.get(Task, fire.id)
                submission = session.get(Submission, task.submission_id)
                composition = compose(bundle_of(get_version(
                    session, submission.bundle_version_id)), submission.answers)
                times = []
                for _ in range(args.repeat):
                    begin = time.perf_counter()
                    slice_pdf(task, submission, composition)
                    times.append((time.perf_counter() - begin) * 1000)
                part = statistics.median(times)
    print(f"receipt page            {baseline:8.1f} ms  (baseline)")
    print(f"applicant's PDF         {whole:8.1f} ms  {whole / baseline:6.1f}× the receipt")
    print(f"fire department's PDF   {part:8.1f} ms  {part / baseline:6.1f}× the receipt")


if __name__ == "__main__":
    main()
