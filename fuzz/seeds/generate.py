#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/seeds/<target>/. Run from anywhere:

    python3 fuzz/seeds/generate.py

The constants mirror fuzz_targets/common.rs and yoco_webhooks::testing.
"""
import base64
import hashlib
import hmac
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
TEST_SECRET = "whsec_dGVzdC1zZWNyZXQtZm9yLXlvY28td2ViaG9va3MtdGVzdHM="
KEY = base64.b64decode(TEST_SECRET[len("whsec_"):])
NOW = 1718466715  # common::NOW_UNIX
ID = b"msg_2hVbEBdDNyrZBrVQmDmLUSxyfFe"  # the signature_header target's id
# The crate's one copy of Yoco's documented sample.
DOCUMENTED_SAMPLE = (HERE.parents[1] / "src" / "event" / "documented_sample.json").read_bytes()
assert len(DOCUMENTED_SAMPLE) == 464

REFUND = b'{"id":"evt_2","type":"refund.succeeded","createdDate":"2024-06-16T10:00:00Z","payload":{"id":"rfd_1","type":"refund","createdDate":"2024-06-16T10:00:00.5Z","amount":400,"currency":"ZAR","paymentId":"p_1","status":"succeeded","mode":"test","metadata":{"checkoutId":"ch_1","orderRef":"A-17","extra":{"n":1}},"newField":true}}'
REFUND_FAILED = b'{"id":"evt_3","type":"refund.failed","createdDate":"2024-06-16T10:00:00+02:00","payload":{"id":"rfd_2","type":"refund","createdDate":"2024-06-16T10:00:00Z","amount":900,"currency":"ZAR","paymentId":"p_2","status":"failed","mode":"live","metadata":{"checkoutId":"ch_2"}}}'
UNKNOWN = b'{"id":"evt_4","type":"payment.failed","createdDate":"2024-06-16T10:00:00Z","payload":{"mode":"sandbox","amount":"weird","metadata":{"checkoutId":"ch_1"}}}'
BROKEN_KNOWN = b'{"id":"evt_5","type":"payment.succeeded","createdDate":"2024-06-16T10:00:00Z","payload":{"mode":"live","metadata":{"checkoutId":"ch_7"}}}'
ODD_METADATA = b'{"id":"evt_6","type":"payment.succeeded","createdDate":"2024-06-16T10:00:00Z","payload":{"id":"p_1","createdDate":"2024-06-16T10:00:00Z","amount":-1,"currency":"ZAR","status":"succeeded","mode":"live","metadata":{"checkoutId":42,"checkoutId":"ch_1"},"paymentMethodDetails":null}}'
NULL_METADATA = b'{"id":"evt_7","type":"payment.succeeded","createdDate":"2024-06-16T10:00:00Z","payload":{"id":"p_1","createdDate":"2024-06-16T10:00:00Z","amount":9223372036854775807,"currency":"","status":"","mode":"test","metadata":null,"paymentMethodDetails":{"type":"eft"}}}'
ESCAPED = b'{"id":"evt_\\u00e9","type":"refund.succeeded\\u0000","createdDate":"2024-06-16T10:00:00Z","payload":{"metadata":{"checkoutId":"ch_\\u0031"},"mode":"\\ud83d\\ude00"}}'


def entry(id_, ts, body):
    tag = hmac.new(KEY, id_ + b"." + ts + b"." + body, hashlib.sha256).digest()
    return b"v1," + base64.b64encode(tag)


def write(target, name, data):
    folder = HERE / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


# signature_header: the header alone.
good = entry(ID, str(NOW).encode(), DOCUMENTED_SAMPLE)
other = entry(b"msg_other", str(NOW).encode(), DOCUMENTED_SAMPLE)
for name, header in {
    "correct": good,
    "correct_unpadded": good.rstrip(b"="),
    "several_entries": b"v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " + good + b" v2,abc v1a,x",
    "correct_last": b"v2,abc v1, v1 nocomma v1,!!! " + other + b" " + good,
    "mismatch_only": other + b" " + other.rstrip(b"="),
    "no_v1": b"v2,abc v1a,xyz nocomma",
    "empty": b"",
    "double_spaces": b"  " + good + b"  ",
}.items():
    write("signature_header", name, header)

# verify: flag byte, then id \n timestamp \n signature \n body.
def verify_seed(flags, id_, ts, sig, body):
    return bytes([flags]) + id_ + b"\n" + ts + b"\n" + sig + b"\n" + body

now = str(NOW).encode()
ref_body = b'{"email":"test@example.com","username":"test_user"}'
for name, seed in {
    "documented_sample_signed": verify_seed(0, ID, now, entry(ID, now, DOCUMENTED_SAMPLE), DOCUMENTED_SAMPLE),
    "several_entries": verify_seed(0x10, b"msg_1", now, b"v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " + entry(b"msg_1", now, ref_body) + b" v2,x", ref_body),
    "relative_edge_past": verify_seed(0x01, b"msg_1", b"-180", b"v1,", ref_body),
    "relative_edge_future": verify_seed(0x01 | 0x20, b"msg_1", b"181", b"", ref_body),
    "leading_zero": verify_seed(0x02, b"msg_1", now, entry(b"msg_1", b"0" + now, b""), b""),
    "repeated_id": verify_seed(0x04 | 0x40, b"msg_1", now, entry(b"msg_1", now, b"x"), b"x"),
    "missing_signature": verify_seed(0x08, b"msg_1", now, b"", b"x"),
    "stale": verify_seed(0, b"msg_1", b"1718466534", b"v1,", b""),
    "huge_timestamp": verify_seed(0, b"msg_1", b"18446744073709551616", b"v1,", b""),
    "non_utf8_body": verify_seed(0, b"msg_\xc3\xa9", now, entry(b"msg_\xc3\xa9", now, b"\xff\xfe\x00{\n}"), b"\xff\xfe\x00{\n}"),
    "non_utf8_id": verify_seed(0, b"\xff", now, b"v1,", b"{}"),
}.items():
    write("verify", name, seed)

# one_reader: Yoco's bodies, foreign and adversarial ones, the bodies that
# once had a payment of ours answered wrongly, and generated events (a 0
# byte, then the choices; see fuzz_targets/one_reader.rs).
FOREIGN = DOCUMENTED_SAMPLE.replace(b"ch_9LVKD8GnAj7f39DFbn4F16bE", b"ch_2")
OURS = DOCUMENTED_SAMPLE.replace(b"ch_9LVKD8GnAj7f39DFbn4F16bE", b"ch_1")
CUSTOMER = b'"metadata":{"customer":"Zoe",'
for name, body in {
    "documented_sample": DOCUMENTED_SAMPLE,
    "foreign": FOREIGN,
    "foreign_key_in_string": FOREIGN.replace(b'"metadata":{', b'"metadata":{"note":"\\"checkoutId\\":\\"ch_1\\"",'),
    "foreign_repeated_checkout": FOREIGN.replace(b'"ch_2"', b'"ch_2","checkoutId":"ch_1"'),
    "foreign_escaped_mode": FOREIGN.replace(b'"live"', b'"l\\u0069ve"'),
    "foreign_nested_checkout": FOREIGN.replace(b'"metadata":{', b'"metadata":{"order":{"checkoutId":"ch_1"},'),
    "foreign_huge_number": FOREIGN.replace(b'"amount":900', b'"amount":1e400'),
    "foreign_payload_first": b'{"payload":{"mode":"test","metadata":{"checkoutId":"ch_2"}},"createdDate":"2024-06-16T10:00:00Z","type":"payment.failed","id":"evt_9"}',
    "no_checkout": FOREIGN.replace(b'"checkoutId":"ch_2"', b""),
    "ours_lone_surrogate": OURS.replace(b'"metadata":{', CUSTOMER.replace(b"Zoe", b"Zo\\ud83d")),
    "ours_number_beyond_f64": OURS.replace(b'"metadata":{', CUSTOMER.replace(b'"Zoe"', b"1e400")),
    "ours_amount_beyond_f64": OURS.replace(b'"amount":900', b'"amount":1e400'),
    "ours_deep_metadata": OURS.replace(b'"metadata":{', CUSTOMER.replace(b'"Zoe"', b"[" * 200 + b"]" * 200)),
    "ours_payload_array": b'{"id":"evt_1","type":"payment.succeeded","createdDate":"2024-06-15T15:51:55.260284Z","payload":["p_1","2024-06-15T17:51:54.405141Z",900,"ZAR","succeeded","live",null,{"checkoutId":"ch_1"}]}',
    "ours_invalid_utf8": OURS.replace(b'"type":"payment.succeeded"', b'"type":"payment.succeeded","note":"a\xffb"'),
    "refund_succeeded_ch_1": REFUND,
    "refund_failed_offset_date": REFUND_FAILED,
    "unknown_type": UNKNOWN,
    "known_type_broken_payload": BROKEN_KNOWN,
    "odd_metadata_duplicate_key": ODD_METADATA,
    "null_metadata": NULL_METADATA,
    "escapes": ESCAPED,
    "not_json": b"\xff\xfe{",
    "generated_plain": bytes([0, 0, 1, 0, 0, 0]),
    "generated_odd": bytes([0, 3, 3, 3, 0, 3, 0, 0, 0, 2, 1, 1, 1, 7, 0, 2, 2, 2, 1, 1]),
}.items():
    write("one_reader", name, body)

# secret_parse: secrets, well formed or not.
for name, text in {
    "test_secret": TEST_SECRET.encode(),
    "unpadded": TEST_SECRET.rstrip("=").encode(),
    "spaced": b"  " + TEST_SECRET.encode() + b"\r\n",
    "blank": b" \t\n",
    "prefix_only": b"whsec_",
    "api_key": b"sk_test_960bfde0VBrLlpK098e4ffeb53e1",
    "bad_base64": b"whsec_c2VjcmV0!",
    "bad_padding": b"whsec_a===",
    "decodes_to_nothing": b"whsec_==",
    "trailing_bits": b"whsec_dGVzdB==",
}.items():
    write("secret_parse", name, text)


# stored_delivery: stored JSON (a nonzero byte first), or a delivery made
# from choices (a 0 byte; see fuzz_targets/stored_delivery.rs).
def receipt(key, id_, ts, received_at):
    receipt_key = hmac.new(key, b"yoco-webhooks receipt v1", hashlib.sha256).digest()
    message = (len(id_).to_bytes(8, "big") + id_ + len(ts).to_bytes(8, "big") + ts
               + received_at.to_bytes(8, "big", signed=True))
    return base64.b64encode(hmac.new(receipt_key, message, hashlib.sha256).digest())


def stored_json(received_at, moved=0, receipt_of=None):
    import datetime
    import json
    ts = str(NOW).encode()
    at = datetime.datetime.fromtimestamp(received_at + moved, datetime.timezone.utc)
    return b"\x01" + json.dumps({
        "webhook_id": ID.decode(),
        "webhook_timestamp": ts.decode(),
        "webhook_signature": entry(ID, ts, DOCUMENTED_SAMPLE).decode(),
        "received_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "body": DOCUMENTED_SAMPLE.decode(),
        "receipt": (receipt_of or receipt(KEY, ID, ts, received_at)).decode(),
    }, separators=(",", ":")).encode()


def made(after, moved, flags, position=0, body=b""):
    return bytes([0]) + after.to_bytes(2, "big", signed=True) + moved.to_bytes(1, "big", signed=True) + bytes([flags, position]) + body


for name, seed in {
    "json_as_stored": stored_json(NOW + 2),
    "json_moved_a_second": stored_json(NOW + 2, moved=1),
    "json_stale": stored_json(NOW + 400),
    "json_no_receipt": stored_json(NOW + 2, receipt_of=b""),
    "json_not_a_delivery": b"\x01{\"webhook_id\":1}",
    "made_as_stored": made(2, 0, 0),
    "made_moved_within_tolerance": made(2, 100, 0),
    "made_moved_out_of_tolerance": made(170, 20, 0),
    "made_future": made(-200, 0, 0),
    "made_receipt_changed": made(2, 0, 1, 43),
    "made_other_secret": made(2, 0, 2),
    "made_own_body": made(2, 0, 4, 0, b'{"id":"evt_1","type":"payment.succeeded"}'),
}.items():
    write("stored_delivery", name, seed)


# body_limit: u16 limit, spaces after the sample, flags, lie, frame lengths
# (see fuzz_targets/body_limit.rs). The sample is 464 bytes.
def limited(limit, spaces, flags, lie=0, cuts=b""):
    return limit.to_bytes(2, "big") + bytes([spaces, flags, lie]) + cuts


for name, seed in {
    "within_one_frame": limited(464, 0, 0),
    "one_over": limited(464, 1, 0),
    "cut_in_frames": limited(4096, 10, 0, 0, bytes([1, 100, 7, 0, 255])),
    "cut_over_the_limit": limited(500, 40, 0, 0, bytes([200, 200])),
    "declared": limited(464, 0, 1),
    "declared_less_over": limited(470, 20, 3, 10, bytes([5])),
    "declared_more_over": limited(470, 0, 5, 10),
    "trailers_and_empty_frames": limited(1000, 3, 8 | 32, 0, bytes([50, 50, 50])),
    "fails_within": limited(1000, 0, 16, 0, bytes([100])),
    "fails_over": limited(400, 0, 16, 0, bytes([100, 100])),
}.items():
    write("body_limit", name, seed)


# lambda_event: event JSON (a nonzero byte first), or an event made from
# choices (a 0 byte, flags, spaces; see fuzz_targets/lambda_event.rs).
for name, seed in {
    "made_rest": bytes([0, 0, 0]),
    "made_http_api_base64": bytes([0, 3, 5]),
    "made_get": bytes([0, 4, 0]),
    "made_unsigned_upper_case": bytes([0, 8 | 16, 0]),
    "made_repeated_id": bytes([0, 1 | 32, 0]),
    "made_changed": bytes([0, 2 | 64, 1]),
    "raw_http_api": b"\x01" + b'{"version":"2.0","routeKey":"$default","rawPath":"/","rawQueryString":"a=1","headers":{"webhook-id":"msg_1"},"requestContext":{"accountId":"1","apiId":"a","domainName":"a.lambda-url.af-south-1.on.aws","domainPrefix":"a","requestId":"id","routeKey":"$default","stage":"$default","time":"01/Dec/2026:12:00:00 +0000","timeEpoch":0,"http":{"method":"POST","path":"/","protocol":"HTTP/1.1","sourceIp":"192.0.2.1","userAgent":"x"}},"body":"e30=","isBase64Encoded":true}',
    "raw_not_an_event": b"\x01{}",
}.items():
    write("lambda_event", name, seed)
