"""moto_server for the rehearsal (scripts/rehearse.sh): moto with three changes that make it behave
like AWS where the rehearsal depends on it.

1. Its own SQS-to-Lambda delivery is off.

moto stores event source mappings and, on every message sent to a mapped queue, tries to run the
function itself (in Docker). Without Docker that fails, and moto then deletes the message or counts
a receive against it: notifications would vanish before anyone reads them, and the redrive count
would be wrong. In the rehearsal the event source mapping is emulated by scripts/rehearse.py, which
reads the mapping back from moto's Lambda API, so here moto keeps the mappings (the API still lists
them) but never attaches one to a queue.

2. A DELETE without a version id on a versioned bucket sends s3:ObjectRemoved:DeleteMarkerCreated,
as S3 does (moto 5.2 sends no notification for a delete marker, so a package deleted through the
gateway would never reach the indexer).

3. Deleting a key that has a delete marker among its versions works (moto 5.2 calls dispose() on
every version, and a delete marker has none: DeleteObjects fails with a 500, so `terraform destroy`
of a bucket with force_destroy, whose versioning is suspended by then, retries for ever).

Everything else is moto as is.

usage: python moto-no-lambda-invoke.py -H 127.0.0.1 -p PORT
"""

import sys

import moto.s3.models as s3_models
import moto.sqs.models as sqs_models
from moto.s3 import notifications
from moto.server import main


class _NoDelivery(dict):
    """A queue's mappings: accepts an assignment (moto's CreateEventSourceMapping) and keeps nothing."""

    def __setitem__(self, key, value):
        pass


_init = sqs_models.Queue.__init__


def _queue_init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.lambda_event_source_mappings = _NoDelivery()


sqs_models.Queue.__init__ = _queue_init

_delete_object = s3_models.S3Backend.delete_object


def _delete_object_notifying(self, bucket_name, key_name, version_id=None, bypass=False):
    bucket = self.get_bucket(bucket_name)
    deleted = bucket.keys.get(key_name)
    ok, meta = _delete_object(self, bucket_name, key_name, version_id=version_id, bypass=bypass)
    if ok and version_id is None and meta.get("delete-marker") == "true" and isinstance(deleted, s3_models.FakeKey):
        notifications.send_event(
            self.account_id,
            notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT,
            bucket,
            deleted,
        )
    return ok, meta


s3_models.S3Backend.delete_object = _delete_object_notifying

if not hasattr(s3_models.FakeDeleteMarker, "dispose"):
    s3_models.FakeDeleteMarker.dispose = lambda self, garbage=False: None

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
