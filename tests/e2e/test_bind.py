"""The README's first command serves on loopback only: no login configured, so no network listener."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.e2e.conftest import run_streamlit


def _listeners(port: int) -> list[str]:
    """Local addresses (hex, as /proc/net/tcp{,6} writes them) listening on `port`."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            addr, state = fields[1], fields[3]
            host, _, hex_port = addr.rpartition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                out.append(host)
    return out


def test_default_config_listens_on_loopback_only(tmp_path, sqlite_template):
    db_path = tmp_path / "wb.db"
    shutil.copy(sqlite_template, db_path)
    with run_streamlit(tmp_path, f"sqlite:///{db_path}", address=None) as app:
        port = int(app.url.rsplit(":", 1)[1])
        hosts = _listeners(port)
    assert hosts, "the server's listening socket was not found"
    # 0100007F is 127.0.0.1; 0.0.0.0 (00000000) or :: (all zeros) would serve every interface
    assert all(h == "0100007F" for h in hosts), hosts
