"""`patchdna ui`: a local web app (Gradio) over the Python API: train, manage, sample, edit and animate models.

    patchdna ui                                  # http://127.0.0.1:7860, models in ./models
    patchdna ui --models ~/patchdna-models --port 8080 --max-upload-mb 50

Gradio is an optional dependency (`pip install patchdna[ui]`); this module imports it only when the command
runs, so the rest of the CLI works without it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from patchdna.cli_args import DefaultsHelpFormatter, add_device_argument
from patchdna.errors import PatchDNAError

__all__ = ["launch", "register"]

# The network may be closed and the page must never phone home: no analytics, no version check, no share link.
OFFLINE_ENVIRONMENT = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_SHARE": "False",
}


def _import_gradio() -> Any:
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    try:
        import gradio
    except ImportError as error:
        raise PatchDNAError("the web UI needs Gradio: pip install 'patchdna[ui]'") from error
    return gradio


def launch(
    models: str | os.PathLike[str] = "models",
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    device: str = "auto",
    max_upload_mb: float = 20.0,
    block: bool = True,
) -> Any:
    """Start the app; with block=False returns (page, app) with the server running in a thread."""
    if max_upload_mb <= 0:
        raise PatchDNAError(f"--max-upload-mb must be positive, got {max_upload_mb}")
    _import_gradio()
    from patchdna.ui.app import build_app
    from patchdna.ui.core import UISettings

    settings = UISettings(models_root=Path(models).resolve(), device=device, max_upload_mb=max_upload_mb)
    page, app = build_app(settings)
    # Several sessions at once: light events (polling, listing) must never wait behind a long generation.
    page.queue(default_concurrency_limit=4)
    try:
        page.launch(
            server_name=host,
            server_port=port,
            share=False,
            inbrowser=False,
            show_error=True,
            max_file_size=settings.max_upload_bytes,
            allowed_paths=[str(app.work_dir)],
            blocked_paths=[str(settings.models_root)],  # downloads are zipped into work_dir, never served raw
            enable_monitoring=False,
            ssr_mode=False,
            pwa=False,
            mcp_server=False,
            prevent_thread_lock=not block,
            quiet=False,
        )
    except OSError as error:
        raise PatchDNAError(f"cannot serve on {host}:{port} ({error}); pick another --port") from error
    finally:
        if block:
            app.jobs.shutdown()
    return page, app


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ui",
        help="start the web UI (Gradio) on this machine",
        description="Serve a local web app to train SinGAN models, list, download and upload them, generate "
        "samples, harmonize, edit, paint-to-image, super-resolve and animate. One training runs at a time in a "
        "background worker; the others wait in a queue. Needs `pip install patchdna[ui]`.",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 127.0.0.1 = this machine only (use 0.0.0.0 to expose it on your network)",
    )
    parser.add_argument("--port", type=int, default=7860, help="port to listen on")
    parser.add_argument(
        "--models",
        default="models",
        help="models root: trained and uploaded model folders are kept here, and the UI reads nothing outside it",
    )
    parser.add_argument("--max-upload-mb", type=float, default=20.0, help="largest accepted upload, in MB")
    add_device_argument(parser)
    parser.set_defaults(
        func=lambda args: (
            launch(args.models, host=args.host, port=args.port, device=args.device, max_upload_mb=args.max_upload_mb)
            and 0
        )
    )
