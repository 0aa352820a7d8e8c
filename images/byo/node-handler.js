// A handler image's HTTP server for spec.protocol http (docs/handler-images.md),
// used by the tests: each event is POSTed to / with its data as the body and
// its id in ce-id. The answer's body is the output record (see answer());
// "poison" always fails (HTTP 500), so the runtime retries it and
// dead-letters it. PORT picks
// the port (8000 by default, as the contract's); it listens on every
// interface, since the kubelet's startup probe connects to the pod's IP.
'use strict';
const http = require('http');

const port = Number(process.env.PORT || 8000);
// A pause per event (tests: so that a kill lands while events are in flight).
const delayMs = Number(process.env.DELAY_MS || 0);
let handled = 0;

// A JSON object comes back with "handledBy" added; anything else as "handled:<body>".
function answer(body) {
  try {
    const value = JSON.parse(body);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      return JSON.stringify({ ...value, handledBy: `node ${process.version}` });
    }
  } catch (e) {
    // not JSON
  }
  return `handled:${body}`;
}

const server = http.createServer((request, response) => {
  if (request.method !== 'POST') {
    response.writeHead(405).end();
    return;
  }
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    if (body === 'poison') {
      response.writeHead(500, { 'Content-Type': 'text/plain' }).end('poison record refused');
      return;
    }
    setTimeout(() => {
      handled += 1;
      if (handled % 100 === 0) console.log(`handled ${handled}`);
      const key = request.headers['x-sluice-key'];
      response.writeHead(200, key ? { 'X-Sluice-Key': key } : {}).end(answer(body));
    }, delayMs);
  });
});

server.listen(port, '0.0.0.0', () => console.log(`node handler listening on port ${port}`));
process.on('SIGTERM', () => server.close(() => {
  console.log(`node handler: ${handled} events handled; stopping`);
  process.exit(0);
}));
