"""An S3-protocol server for memfs-store's tests: moto's S3 on loopback, one request at a time.

moto checks a conditional put's precondition and writes the object in two steps; served from
one thread (werkzeug, ``threaded=False``), every request runs alone, so the check and the write
are atomic, as on AWS S3 or MinIO. Binds 127.0.0.1 on a free port, creates the bucket given,
prints ``ready PORT`` and serves until killed.

Usage: python s3_server.py BUCKET
"""

import os
import sys
import threading
import time

from werkzeug.serving import make_server

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


class QuietHandler(MotoRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


def main():
    bucket = sys.argv[1]
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        "127.0.0.1", 0, app, threaded=False, request_handler=QuietHandler
    )
    port = server.socket.getsockname()[1]
    # Create the bucket through the app itself (an unsigned request, as moto accepts).
    from werkzeug.test import Client

    response = Client(app).put(f"/{bucket}", headers={"Host": f"127.0.0.1:{port}"})
    if response.status_code != 200:
        sys.exit(f"creating bucket {bucket}: {response.status_code} {response.data!r}")
    # Exit with the test process that started us (it may never kill us: a static's server).
    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    print(f"ready {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
