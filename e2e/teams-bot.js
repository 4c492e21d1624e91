// A stock Teams SDK v2 bot (@microsoft/teams.apps, teams.ts) with no
// credentials, the way it runs behind the sidecar: an App with no CLIENT_ID
// or CLIENT_SECRET, so it attaches no token to what it sends, and with
// DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS=true in its environment, without
// which it answers every inbound request 401 ("Authentication not
// configured"). SERVICE_URL is the sidecar's outbound URL: the App's own API
// client (app.api, used outside a turn) goes there, as replies in a turn go
// to the activity's serviceUrl, which is the sidecar too.
//
// Driven by cmd/sidecar/e2e_teams_test.go. Environment, besides the two
// above:
//   PORT  port to listen on (default 3978; 0 picks a free one)
//   HOST  address to listen on (default 127.0.0.1)
// It prints "listening on http://HOST:PORT/api/messages" once it is up.
// GET /api/received returns what POST /api/messages received (headers and
// raw body); GET /api/sent returns every HTTP request the SDK made (method,
// URL as sent on the wire, headers, JSON body).
//
// A message's text picks what the bot does, each the way the SDK's own
// docs do it:
//   "proactive…"  a send through the App's client (app.api, SERVICE_URL)
//                 naming only the conversation, as a notifier does later:
//                 the channel itself (channelData.channel.id) for a channel
//                 message, else the same conversation. app.send would be
//                 the one-liner, but it refuses an App with no app id
//                 ("App has no credentials set up");
//   "members…"    the turn's client: getPagedMembers and getMemberById of
//                 the conversation, then a reply that says how each went;
//   anything else is answered in the conversation as "echo: <text>".
'use strict';

const express = require('express');
const { App, ExpressAdapter } = require('@microsoft/teams.apps');
const { serveBot } = require('./bot-server');

// Every request the SDK sends goes through its HTTP client's axios
// interceptors, the App's `client` option. getUri builds the URL the way
// axios's http adapter does before it writes the request line.
const sent = [];
const recorder = {
  request: ({ config }) => {
    const url = new URL(app.client.http.getUri(config));
    const headers = {};
    for (const [k, v] of Object.entries(config.headers.toJSON())) {
      headers[k.toLowerCase()] = String(v);
    }
    const body = config.data === undefined || typeof config.data === 'string' ? config.data : JSON.stringify(config.data);
    sent.push({ method: config.method.toUpperCase(), url: url.href, target: url.pathname + url.search, headers, body });
    return config;
  },
};

// The SDK's own Express adapter on an express app this file serves (the
// adapter's documented form for a server you run yourself), so that the
// test can read what arrived.
const web = express();
const app = new App({ httpServerAdapter: new ExpressAdapter(web), client: { interceptors: [recorder] } });
if (app.id) {
  // The point of this bot is the no-credentials mode; a CLIENT_ID picked up
  // from the environment would make it a different bot.
  console.error('teams-bot: an app id is configured; this bot must run without credentials');
  process.exit(2);
}

// failure says what a refused call got: the SDK's HTTP client is axios, whose
// error carries the status and body the sidecar answered.
function failure(err) {
  const res = err && err.response;
  if (!res) {
    return `error ${(err && err.message) || err}`;
  }
  return `error ${res.status} ${JSON.stringify(res.data)} (${String(err.config.method).toUpperCase()} ${err.config.url})`;
}

// describe turns a call's outcome into reply text, so a failing test says
// why.
async function describe(name, call) {
  try {
    await call();
    return name + ': ok';
  } catch (err) {
    return `${name}: ${failure(err)}`;
  }
}

app.on('message', async ({ activity, api, send }) => {
  const text = activity.text || '';
  const conversationId = activity.conversation.id;
  if (text.startsWith('proactive')) {
    const channel = activity.channelData && activity.channelData.channel;
    const target = channel ? channel.id : conversationId;
    await app.api.conversations.createActivity(target, { type: 'message', text: 'proactive: ' + text });
  } else if (text.startsWith('members')) {
    const results = [
      await describe('pagedMembers', () => api.conversations.getPagedMembers(conversationId, 50)),
      await describe('member', () => api.conversations.getMemberById(conversationId, activity.from.id)),
    ];
    await send(results.join('; '));
  } else {
    await send('echo: ' + text);
  }
});

// The SDK reports a failed turn as an error event and answers 500; print
// it, the test shows the bot's stderr when it fails.
app.event('error', ({ error }) => {
  console.error('teams-bot: turn failed:', failure(error));
});

// initialize registers POST /api/messages on the adapter (start would also
// listen; serveBot does, on HOST and PORT). bot-server.js reads and parses
// the body; with req.body set, the adapter's express.json() leaves it as it
// is (body-parser skips a request whose body was read) and the SDK gets it
// unchanged.
app.initialize().then(
  () =>
    serveBot({
      name: 'teams-bot',
      defaultPort: 3978,
      gets: { '/api/sent': () => sent },
      onMessage: (req, res, body) =>
        new Promise((resolve, reject) => {
          req.body = body;
          res.on('finish', resolve);
          res.on('close', resolve);
          web(req, res, (err) => (err ? reject(err) : resolve()));
        }),
    }),
  (err) => {
    console.error('teams-bot: initialize failed:', err);
    process.exit(1);
  },
);
