"""moto's server, with DynamoDB's requests answered one at a time.

moto's DynamoDB reads an item, evaluates a condition and writes, without a
lock, on one thread per request: two conditional writes at once can both
pass, where DynamoDB evaluates a condition atomically with its write. One
lock around DynamoDB's requests gives the tests DynamoDB's guarantee; the
other services (SQS's long polls) stay concurrent.

Arguments as `moto_server`'s. Run by tests/it/moto.rs with the Python that
has moto (scripts/test's virtualenv).
"""

import sys
import threading

from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

DYNAMODB = threading.Lock()
dispatch = DomainDispatcherApplication.__call__


def one_dynamodb_request_at_a_time(self, environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        with DYNAMODB:
            # The whole answer inside the lock: the write happens while it is made.
            return list(dispatch(self, environ, start_response))
    return dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = one_dynamodb_request_at_a_time

if __name__ == "__main__":
    server.main(sys.argv[1:])
