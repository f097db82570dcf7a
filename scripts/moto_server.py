"""Starts the local AWS emulator (moto) for the dev and test commands.

moto's DynamoDB backend is not thread-safe: a TransactWriteItems deep-copies the
table while other request threads modify it ("dictionary changed size during
iteration", answered as an HTML 500). Real DynamoDB has no such problem, so this
launcher serialises DynamoDB requests behind one lock; S3 and SQS (including SQS
long polls) stay concurrent.

moto also backs a transaction up by deep-copying the whole table once per operation,
so a transaction's cost grows with the table (a 90-operation transaction on a table
of a few hundred items takes seconds). With requests serialised, backing up only the
items the transaction touches is equivalent: this launcher does that, and restores
them when the transaction is cancelled.

Usage: python scripts/moto_server.py HOST PORT
"""

import copy
import sys
import threading

import moto.dynamodb.models as ddb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

_lock = threading.RLock()
_call_action = DynamoHandler.call_action


def _serialised_call_action(self):
    with _lock:
        return _call_action(self)


DynamoHandler.call_action = _serialised_call_action


class _NoTableCopy:
    """`copy` for moto's transaction code: tables are not copied (see above)."""

    @staticmethod
    def deepcopy(value):
        return value if isinstance(value, Table) else copy.deepcopy(value)


ddb_models.copy = _NoTableCopy
_transact = DynamoDBBackend.transact_write_items


def _key_of(backend, op_type, op):
    if op_type != "Put":
        return op["Key"]
    table = backend.get_table(op["TableName"])
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _item_backed_up_transact(self, transact_items):
    backups = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        try:
            key = _key_of(self, op_type, op)
            old = self.get_item(op["TableName"], key)
        except Exception:
            continue  # the original reports what is wrong with this operation
        attrs = copy.deepcopy(old.to_json()["Attributes"]) if old else None
        backups.append((op["TableName"], key, attrs))
    try:
        return _transact(self, transact_items)
    except Exception:
        for table_name, key, attrs in reversed(backups):
            if attrs is None:
                try:
                    self.delete_item(table_name, key)
                except Exception:
                    pass
            else:
                self.put_item(table_name, attrs)
        raise


DynamoDBBackend.transact_write_items = _item_backed_up_transact

if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=True, use_reloader=False)
