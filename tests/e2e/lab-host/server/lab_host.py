"""The test host's server: Debian's jupyter_server 1.x + jupyterlab_server 2.x serving the
JupyterLab 4 front end built by `npm run e2e:setup`.

    /usr/bin/python3 lab_host.py --host-dir <built host> [jupyter_server options...]

<built host> holds static/ (the bundle), schemas/, themes/, settings/ and templates/ (see
tests/e2e/setup.ts). Federated extensions come from the labextensions path (JUPYTER_PATH /
JUPYTER_DATA_DIR, plus --extra-labextensions <dir>), as in a real JupyterLab.

Three stubs fill gaps that JupyterLab 4's front end calls: /api/me (the identity API of
jupyter_server 2.0), the /api/events/subscribe websocket (jupyter_server 2.0's event bus) and
/lsp/status (the jupyter-lsp server extension a JupyterLab install brings). Without them they
404 on every page load and flood the console; with them the front end runs as it does on a
current server (anonymous user, no events, no language servers).
"""
import json
import os
import sys

from jupyter_core.paths import jupyter_config_dir
from jupyter_server.base.handlers import APIHandler
from jupyterlab_server import LabServerApp
from tornado import web, websocket
from traitlets import default


class MeHandler(APIHandler):
    @web.authenticated
    def get(self):
        identity = {"username": "e2e", "name": "E2E test", "display_name": "E2E test", "initials": "E2", "avatar_url": None, "color": None}
        self.finish(json.dumps({"identity": identity, "permissions": {}}))


class EventsHandler(websocket.WebSocketHandler):
    """Accepts the subscription and never sends: there are no server events to report."""

    def check_origin(self, origin):
        return True

    def on_message(self, message):
        pass


class LspStatusHandler(APIHandler):
    """jupyter-lsp's status (a normal JupyterLab install has jupyter-lsp): no language servers."""

    @web.authenticated
    def get(self):
        self.finish(json.dumps({"version": 2, "sessions": {}, "specs": {}}))


def _take(argv, flag):
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            value = argv[i + 1]
            del argv[i : i + 2]
            return value
        if arg.startswith(flag + "="):
            del argv[i]
            return arg.split("=", 1)[1]
    return None


HOST_DIR = ""
EXTRA_LABEXTENSIONS = []


class E2ELabApp(LabServerApp):
    name = "lab"
    load_other_extensions = False
    app_name = "JupyterLab (MedicoSAM e2e host)"
    app_url = "/lab"
    default_url = "/lab"
    extension_url = "/lab"

    # Folders of the built host (--host-dir) and of the user (JUPYTER_CONFIG_DIR/lab).
    @default("static_dir")
    def _static_dir(self):
        return os.path.join(HOST_DIR, "static")

    @default("templates_dir")
    def _templates_dir(self):
        return os.path.join(HOST_DIR, "templates")

    @default("schemas_dir")
    def _schemas_dir(self):
        return os.path.join(HOST_DIR, "schemas")

    @default("themes_dir")
    def _themes_dir(self):
        return os.path.join(HOST_DIR, "themes")

    @default("app_settings_dir")
    def _app_settings_dir(self):
        return os.path.join(HOST_DIR, "settings")

    @default("user_settings_dir")
    def _user_settings_dir(self):
        return os.path.join(jupyter_config_dir(), "lab", "user-settings")

    @default("workspaces_dir")
    def _workspaces_dir(self):
        return os.path.join(jupyter_config_dir(), "lab", "workspaces")

    @default("extra_labextensions_path")
    def _extra_labextensions_path(self):
        return list(EXTRA_LABEXTENSIONS)

    def initialize_handlers(self):
        self.handlers.append(("/api/me", MeHandler))
        self.handlers.append(("/api/events/subscribe", EventsHandler))
        self.handlers.append(("/lsp/status", LspStatusHandler))
        super().initialize_handlers()


def _jupyter_server_extension_points():
    # Run as a script, this module is `__main__`: jupyter_server finds the app through this hook.
    return [{"module": "__main__", "app": E2ELabApp}]


def main():
    global HOST_DIR
    argv = sys.argv[1:]
    HOST_DIR = _take(argv, "--host-dir")
    extra = _take(argv, "--extra-labextensions")
    if not HOST_DIR or not os.path.isdir(os.path.join(HOST_DIR, "static")):
        sys.exit(f"lab_host.py: --host-dir must name a built host (with static/), got {HOST_DIR!r}; run `npm run e2e:setup`")
    if extra:
        EXTRA_LABEXTENSIONS.append(extra)
    E2ELabApp.launch_instance(argv=argv)


if __name__ == "__main__":
    main()
