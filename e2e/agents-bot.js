// A stock M365 Agents SDK for JavaScript bot (@microsoft/agents-hosting,
// the successor of botbuilder) with no auth code, the way it runs behind the
// sidecar: an AgentApplication on the SDK's CloudAdapter in its
// no-credentials mode (no clientId configured and NODE_ENV not production,
// so an inbound request without Authorization is taken as anonymous and
// outbound calls carry no token), served on plain loopback HTTP.
//
// With NODE_ENV=production it is instead the stock bot in production: the
// SDK then refuses every request without a valid token, so the bot has a
// clientId and a connection with AuthType=EntraAuthSideCar, and no
// credential at all. The sidecar's auth sidecar listener hands it tokens
// (SIDECAR_URL) and signs what it forwards (the connection's
// AuthorityEndpoint names the sidecar's keys); all of it is the SDK's own
// configuration, read from the environment:
//   Connections__serviceConnection__Settings__ClientId=<app id>
//   Connections__serviceConnection__Settings__AuthType=EntraAuthSideCar
//   Connections__serviceConnection__Settings__AuthorityEndpoint=http://127.0.0.1:5178/inbound
//   SIDECAR_URL=http://127.0.0.1:5178
//
// Driven by cmd/sidecar/e2e_test.go. Environment:
//   PORT  port to listen on (default 3978; 0 picks a free one)
//   HOST  address to listen on (default 127.0.0.1)
// It prints "listening on http://HOST:PORT/api/messages" once it is up.
// GET /api/received returns what POST /api/messages received (headers and
// raw body); GET /api/sent returns every HTTP request the SDK made (method,
// URL as sent on the wire, headers, JSON body), so the test can compare the bytes the
// sidecar forwarded with the bytes the SDK wrote.
//
// A message's text picks what the bot does, each the way the SDK's own
// code and samples do it:
//   "proactive…"  continueConversation with a reference to the bare channel
//                 id (channelData.channel.id): a new top-level channel post;
//   "create…"     TeamsInfo.sendMessageToTeamsChannel: createConversation
//                 in the channel (POST /v3/conversations with the activity);
//   "members…"    TeamsInfo.getPagedMembers and TeamsInfo.getTeamDetails,
//                 then a reply that says how each went;
//   anything else is answered in the thread as "echo: <text>".
'use strict';

const {
  AgentApplication,
  ConversationReferenceBuilder,
  MemoryStorage,
  MessageFactory,
} = require('@microsoft/agents-hosting');
const { TeamsInfo } = require('@microsoft/agents-hosting-extensions-teams');
const { serveBot, shimResponse } = require('./bot-server');

// Every request the SDK sends goes through the global fetch (its HttpClient
// is built on it). Recording them here is the only way to see the exact
// request-target the SDK produced: URL parsing is what fetch does before it
// writes the request line, so the parsed path and query are the bytes on the
// wire.
const sent = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  const headers = {};
  new Headers(init.headers).forEach((v, k) => {
    headers[k] = v;
  });
  const body = typeof init.body === 'string' ? init.body : undefined;
  sent.push({ method: (init.method || 'GET').toUpperCase(), url: url.href, target: url.pathname + url.search, headers, body });
  return realFetch(input, init);
};

const agent = new AgentApplication({ storage: new MemoryStorage() });
const adapter = agent.adapter;
if (process.env.NODE_ENV === 'production') {
  // The point of this mode is a bot with no secret: a credential picked up
  // from the environment would make it a different bot.
  const credentials = ['clientSecret', 'certPemFile', 'certKeyFile', 'federatedClientId', 'federatedTokenFile', 'WIDAssertionFile'];
  for (const [name, c] of adapter.authConfig.connections) {
    const held = credentials.filter((k) => c[k] !== undefined);
    if (c.authType !== 'EntraAuthSideCar' || held.length > 0) {
      console.error(`agents-bot: connection ${name} has authType ${c.authType} and ${held.join(', ') || 'no credential'}; production mode wants EntraAuthSideCar and no credential`);
      process.exit(2);
    }
  }
  if (!adapter.getClientId()) {
    console.error('agents-bot: production mode needs a clientId');
    process.exit(2);
  }
} else if (adapter.getClientId()) {
  // The point of this bot is the no-credentials mode; a clientId picked up
  // from the environment would make it a different bot.
  console.error('agents-bot: a clientId is configured; this bot must run without credentials');
  process.exit(2);
}

// failure says what a refused call got: the SDK's HttpError carries the
// status and body the sidecar answered, and the request it made.
function failure(err) {
  const status = err && err.status;
  const data = err && err.response && err.response.data;
  const req = err && err.config ? ` (${String(err.config.method).toUpperCase()} ${err.config.url})` : '';
  return `error ${status || ''} ${data === undefined ? (err && err.message) || err : JSON.stringify(data)}${req}`;
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

// The SDK's default turn error handler logs only under DEBUG=agents:*; this
// one prints the refused call (the test shows the bot's stderr when it
// fails) and says it in the conversation.
agent.onError(async (context, err) => {
  console.error('agents-bot: turn failed:', failure(err));
  await context.sendActivity('turn failed: ' + failure(err));
});

agent.onActivity('message', async (context) => {
  const a = context.activity;
  const text = a.text || '';
  const channelId = a.channelData && a.channelData.channel && a.channelData.channel.id;
  // In no-credentials mode the agent has no app id of its own; the channel
  // account it is addressed as is 28:<appId> (in production, its own).
  const appId = a.recipient.id.replace(/^28:/, '');
  if (text.startsWith('proactive')) {
    // A new top-level post in the channel: a reference to the bare channel
    // id, continued later by a notifier with the agent's app id.
    const ref = ConversationReferenceBuilder.create(appId, 'msteams', a.serviceUrl)
      .withConversationId(channelId)
      .build();
    await adapter.continueConversation(appId, ref, async (ctx) => {
      await ctx.sendActivity('proactive: ' + text);
    });
  } else if (text.startsWith('create')) {
    // The Teams extension's way to start a channel post: createConversation
    // with the channel id and the first message, through the CloudAdapter.
    await TeamsInfo.sendMessageToTeamsChannel(context, MessageFactory.text('created: ' + text), channelId, appId);
  } else if (text.startsWith('members')) {
    // In a team's channel both read the team: channelData.team.id.
    const results = [
      await describe('pagedMembers', () => TeamsInfo.getPagedMembers(context, 50)),
      await describe('teamDetails', () => TeamsInfo.getTeamDetails(context)),
    ];
    await context.sendActivity(results.join('; '));
  } else {
    await context.sendActivity('echo: ' + text);
  }
});

// adapter.authorizeRequest and adapter.process want what express hands
// them (the SDK's own server, @microsoft/agents-hosting-express, is express
// with authorizeJWT in front): req.method, req.headers and req.body already
// parsed, and a response (bot-server.js's shimResponse).
serveBot({
  name: 'agents-bot',
  defaultPort: 3978,
  gets: { '/api/sent': () => sent },
  onMessage: async (req, res, body) => {
    const request = { method: req.method, headers: req.headers, body };
    const response = shimResponse(res);
    let authorized = false;
    await adapter.authorizeRequest(request, response, () => {
      authorized = true;
    });
    if (authorized) {
      await adapter.process(request, response, (context) => agent.run(context));
    }
  },
});
