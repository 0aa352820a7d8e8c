// How a replica's /invoke answer becomes the client's HTTP response, and how
// a client request becomes the replica's /invoke request.
//
// A handler that returns a Lambda / SCF API-gateway proxy response (a JSON
// object with an integer `statusCode`, and optionally `headers`,
// `multiValueHeaders`, `cookies`, `body` and `isBase64Encoded`) sets the real
// status, headers and body; any other output is the body of a 200 (the
// runtime's own status and text for its errors). Pure functions; any thread.
#pragma once

#include <string>

#include "gateway/route.h"
#include "gateway/upstream.h"
#include "http/http_server.h"

namespace sluice::gateway {

http::ServerResponse clientResponseFrom(const UpstreamResponse& upstream);

// The /invoke request for `request` routed by `route`: the client's headers
// without hop-by-hop ones and without any the client might use to pose as
// Sluice (x-sluice-*, sluice.*), then the method, path, query and client
// address for the runtime's HTTP event shapes and the trigger's name.
// Takes the request by value: a caller done with it moves it, and its
// headers and body are moved on rather than copied.
UpstreamRequest invokeRequestFor(http::ServerRequest request, const Route& route, const std::string& trigger);

}  // namespace sluice::gateway
