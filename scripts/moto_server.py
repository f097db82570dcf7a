"""Starts the local AWS emulator (moto) for the dev and test commands.

moto's DynamoDB backend is not thread-safe: a TransactWriteItems deep-copies the
table while other request threads modify it ("dictionary changed size during
iteration", answered as an HTML 500). Real DynamoDB has no such problem, so this
launcher serialises DynamoDB requests behind one lock; S3 and SQS (including SQS
long polls) stay concurrent.

Usage: python scripts/moto_server.py HOST PORT
"""

import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

_lock = threading.RLock()
_call_action = DynamoHandler.call_action


def _serialised_call_action(self):
    with _lock:
        return _call_action(self)


DynamoHandler.call_action = _serialised_call_action

if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=True, use_reloader=False)
