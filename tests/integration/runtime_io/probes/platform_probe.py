# A handler written against Tencent SCF's and AWS Lambda's published event and
# context documentation: it tells the trigger from the event as multi-trigger
# handlers do, reads every documented field the way the platforms' samples do,
# and reports each field that is missing or of another JSON type than
# documented (plus a few values the test checks). Used by
# runtime_binary_platform_shapes_test.cpp with eventShape scf or lambda.
import base64
import json
import re
import urllib.parse

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
RFC3339 = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z"

# path -> (JSON types, optional pattern). Paths are dotted; a number indexes a list.
SCF_TIMER = {
    "Type": ("str", "Timer"), "TriggerName": ("str",), "Time": ("str", r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"),
    "Message": ("str",),
}
SCF_CKAFKA = {
    "Records": ("list",), "Records.0.Ckafka": ("dict",), "Records.0.Ckafka.topic": ("str",),
    "Records.0.Ckafka.partition": ("int",), "Records.0.Ckafka.offset": ("int",),
    "Records.0.Ckafka.msgKey": ("str",), "Records.0.Ckafka.msgBody": ("str",),
}
SCF_COS = {
    "Records": ("list",), "Records.0.cos.cosSchemaVersion": ("str", r"1\.0"),
    "Records.0.cos.cosObject.url": ("str", r"https?://.+"), "Records.0.cos.cosObject.meta": ("dict",),
    "Records.0.cos.cosObject.meta.x-cos-request-id": ("str",), "Records.0.cos.cosObject.meta.Content-Type": ("str",),
    "Records.0.cos.cosObject.vid": ("str",), "Records.0.cos.cosObject.key": ("str", r"/\d+/[^/]+/.+"),
    "Records.0.cos.cosObject.size": ("int",), "Records.0.cos.cosBucket.region": ("str",),
    "Records.0.cos.cosBucket.name": ("str",), "Records.0.cos.cosBucket.appid": ("str", r"\d+"),
    "Records.0.cos.cosNotificationId": ("str",), "Records.0.event.eventName": ("str", r"cos:ObjectCreated:.+"),
    "Records.0.event.eventVersion": ("str",), "Records.0.event.eventTime": ("int",),
    "Records.0.event.eventSource": ("str", "qcs::cos"),
    "Records.0.event.requestParameters.requestSourceIP": ("str", r"\d+\.\d+\.\d+\.\d+"),
    "Records.0.event.requestParameters.requestHeaders": ("dict",), "Records.0.event.eventQueue": ("str",),
    "Records.0.event.reservedInfo": ("str",), "Records.0.event.reqid": ("int",),
}
SCF_APIGW = {
    "httpMethod": ("str",), "path": ("str", r"/.*"), "headers": ("dict",), "body": ("str",),
    "queryString": ("dict",), "queryStringParameters": ("dict",), "pathParameters": ("dict",),
    "headerParameters": ("dict",), "stageVariables": ("dict",), "requestContext.serviceId": ("str",),
    "requestContext.path": ("str",), "requestContext.httpMethod": ("str",), "requestContext.requestId": ("str",),
    "requestContext.identity": ("dict",), "requestContext.sourceIp": ("str",), "requestContext.stage": ("str",),
}
LAMBDA_SCHEDULE = {
    "version": ("str", "0"), "id": ("str", UUID), "detail-type": ("str", "Scheduled Event"),
    "source": ("str", "aws.events"), "account": ("str", r"\d{12}"), "time": ("str", RFC3339),
    "region": ("str",), "resources": ("list",), "resources.0": ("str", r"arn:aws:events:[a-z0-9-]+:\d{12}:rule/.+"),
    "detail": ("dict",),
}
LAMBDA_KAFKA = {"eventSource": ("str", "SelfManagedKafka|aws:kafka"), "bootstrapServers": ("str",),
                "records": ("dict",)}
LAMBDA_KAFKA_RECORD = {
    "topic": ("str",), "partition": ("int",), "offset": ("int",), "timestamp": ("int",),
    "timestampType": ("str", "CREATE_TIME|LOG_APPEND_TIME"), "key": ("str",), "value": ("str",),
    "headers": ("list",),
}
LAMBDA_S3 = {
    "Records": ("list",), "Records.0.eventVersion": ("str", r"2\.\d"), "Records.0.eventSource": ("str", "aws:s3"),
    "Records.0.awsRegion": ("str",), "Records.0.eventTime": ("str", RFC3339),
    "Records.0.eventName": ("str", r"ObjectCreated:.+"), "Records.0.userIdentity.principalId": ("str",),
    "Records.0.requestParameters.sourceIPAddress": ("str", r"\d+\.\d+\.\d+\.\d+"),
    "Records.0.responseElements.x-amz-request-id": ("str",), "Records.0.responseElements.x-amz-id-2": ("str",),
    "Records.0.s3.s3SchemaVersion": ("str", r"1\.0"), "Records.0.s3.configurationId": ("str",),
    "Records.0.s3.bucket.name": ("str",), "Records.0.s3.bucket.ownerIdentity.principalId": ("str",),
    "Records.0.s3.bucket.arn": ("str", r"arn:aws:s3:::.+"), "Records.0.s3.object.key": ("str",),
    "Records.0.s3.object.size": ("int",), "Records.0.s3.object.eTag": ("str",),
    "Records.0.s3.object.versionId": ("str",), "Records.0.s3.object.sequencer": ("str", r"[0-9A-F]+"),
}
LAMBDA_APIGW = {
    "resource": ("str",), "path": ("str", r"/.*"), "httpMethod": ("str",), "headers": ("dict", "NoneType"),
    "multiValueHeaders": ("dict", "NoneType"), "queryStringParameters": ("dict", "NoneType"),
    "multiValueQueryStringParameters": ("dict", "NoneType"), "pathParameters": ("dict", "NoneType"),
    "stageVariables": ("dict", "NoneType"), "requestContext.accountId": ("str", r"\d{12}"),
    "requestContext.apiId": ("str",), "requestContext.domainName": ("str",), "requestContext.domainPrefix": ("str",),
    "requestContext.extendedRequestId": ("str",), "requestContext.httpMethod": ("str",),
    "requestContext.identity.sourceIp": ("str",), "requestContext.identity.userAgent": ("str",),
    "requestContext.path": ("str",), "requestContext.protocol": ("str",), "requestContext.requestId": ("str",),
    "requestContext.requestTime": ("str", r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000"),
    "requestContext.requestTimeEpoch": ("int",), "requestContext.resourceId": ("str",),
    "requestContext.resourcePath": ("str",), "requestContext.stage": ("str",), "body": ("str", "NoneType"),
    "isBase64Encoded": ("bool",),
}
SCF_CONTEXT_KEYS = {
    "memory_limit_in_mb": "int", "time_limit_in_ms": "int", "request_id": "str", "environment": "str",
    "environ": "str", "function_version": "str", "function_name": "str", "namespace": "str",
    "tencentcloud_region": "str", "tencentcloud_appid": "str", "tencentcloud_uin": "str",
}
LAMBDA_CONTEXT_ATTRIBUTES = {
    "function_name": "str", "function_version": "str", "invoked_function_arn": "str", "memory_limit_in_mb": "str",
    "aws_request_id": "str", "log_group_name": "str", "log_stream_name": "str", "identity": "CognitoIdentity",
    "client_context": "NoneType",
}


def lookup(value, path):
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def check(event, spec, errors, prefix=""):
    for path, types in spec.items():
        pattern = types[1] if len(types) > 1 and types[1] not in ("NoneType", "dict") else None
        kinds = [t for t in types if t in ("str", "int", "bool", "list", "dict", "NoneType")]
        try:
            value = lookup(event, path)
        except (KeyError, IndexError, TypeError):
            errors.append("%s%s: missing" % (prefix, path))
            continue
        if type(value).__name__ not in kinds:
            errors.append("%s%s: %s, not %s" % (prefix, path, type(value).__name__, "|".join(kinds)))
        elif pattern and not re.fullmatch(pattern, str(value)):
            errors.append("%s%s: %r does not match %s" % (prefix, path, value, pattern))


def check_context(context, errors):
    if isinstance(context, dict):
        if list(context.keys()) != list(SCF_CONTEXT_KEYS):
            errors.append("context keys %s" % list(context.keys()))
        for key, kind in SCF_CONTEXT_KEYS.items():
            if type(context.get(key)).__name__ != kind or type(getattr(context, key)).__name__ != kind:
                errors.append("context[%r]: %s, not %s" % (key, type(context.get(key)).__name__, kind))
        json.loads(context["environment"])
        dict(item.split("=", 1) for item in context["environ"].split(";"))
        return {"memory": context["memory_limit_in_mb"], "appid": context.tencentcloud_appid}
    for name, kind in LAMBDA_CONTEXT_ATTRIBUTES.items():
        if type(getattr(context, name, KeyError)).__name__ != kind:
            errors.append("context.%s: %s, not %s" % (name, type(getattr(context, name, None)).__name__, kind))
    if not re.fullmatch(r"arn:aws:lambda:[a-z0-9-]+:\d{12}:function:.+", context.invoked_function_arn):
        errors.append("context.invoked_function_arn %r" % context.invoked_function_arn)
    if context.identity.cognito_identity_id is not None or context.identity.cognito_identity_pool_id is not None:
        errors.append("context.identity is not empty")
    if not isinstance(context.get_remaining_time_in_millis(), int):
        errors.append("get_remaining_time_in_millis() is not an int")
    return {"memory": context.memory_limit_in_mb, "arn": context.invoked_function_arn}


def scf(event, errors):
    if event.get("Type") == "Timer":
        check(event, SCF_TIMER, errors)
        return "timer", {"message": event["Message"], "trigger": event["TriggerName"]}
    if "httpMethod" in event:
        check(event, SCF_APIGW, errors)
        return "http", {"body": event["body"], "method": event["requestContext"]["httpMethod"]}
    record = event["Records"][0]
    if "Ckafka" in record:
        check(event, SCF_CKAFKA, errors)
        ckafka = record["Ckafka"]
        return "kafka", {"topic": ckafka["topic"], "key": ckafka["msgKey"], "body": ckafka["msgBody"]}
    check(event, SCF_COS, errors)
    cos = record["cos"]
    appid = cos["cosBucket"]["appid"]
    bucket = cos["cosBucket"]["name"]
    # As SCF's COS samples do: the key arrives as /<appid>/<bucket>/<key>.
    key = cos["cosObject"]["key"].replace("/%s/%s/" % (appid, bucket), "", 1)
    return "objects", {"bucket": bucket, "key": key, "url": cos["cosObject"]["url"], "vid": cos["cosObject"]["vid"],
                       "ip": record["event"]["requestParameters"]["requestSourceIP"]}


def aws(event, errors):
    if event.get("source") == "aws.events":
        check(event, LAMBDA_SCHEDULE, errors)
        return "timer", {"rule": event["resources"][0]}
    if "httpMethod" in event:
        check(event, LAMBDA_APIGW, errors)
        body = base64.b64decode(event["body"]).decode() if event["isBase64Encoded"] else event["body"]
        return "http", {"body": body, "method": event["requestContext"]["httpMethod"]}
    if event.get("eventSource") in ("SelfManagedKafka", "aws:kafka"):
        check(event, LAMBDA_KAFKA, errors)
        out = {"eventSource": event["eventSource"], "arn": event.get("eventSourceArn"), "records": []}
        if event["eventSource"] == "aws:kafka":
            check(event, {"eventSourceArn": ("str", r"arn:aws:kafka:[a-z0-9-]+:\d{12}:cluster/.+")}, errors)
        for topic_partition, records in event["records"].items():
            for record in records:
                check(record, LAMBDA_KAFKA_RECORD, errors, topic_partition + ".")
                headers = {}
                for header in record["headers"]:
                    for name, value in header.items():
                        if not all(isinstance(b, int) for b in value):
                            errors.append("header %s is not a list of byte values" % name)
                        headers[name] = bytes(value).decode()
                out["records"].append({"topicPartition": topic_partition,
                                       "key": base64.b64decode(record["key"]).decode(),
                                       "value": base64.b64decode(record["value"]).decode(), "headers": headers})
        return "kafka", out
    check(event, LAMBDA_S3, errors)
    record = event["Records"][0]
    # As the Lambda S3 samples do.
    bucket = record["s3"]["bucket"]["name"]
    key = urllib.parse.unquote_plus(record["s3"]["object"]["key"], encoding="utf-8")
    return "objects", {"bucket": bucket, "key": key, "versionId": record["s3"]["object"].get("versionId"),
                       "region": record["awsRegion"]}


def main_handler(event, context):
    errors = []
    kind, values = scf(event, errors) if isinstance(context, dict) else aws(event, errors)
    values["context"] = check_context(context, errors)
    return json.dumps({"kind": kind, "errors": errors, "values": values}, sort_keys=True)
