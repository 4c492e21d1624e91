// A stock botbuilder-js bot with no auth code, the way a bot runs behind
// the sidecar (README, quick start 2): CloudAdapter with an EMPTY app id and
// password (authentication disabled), served on plain loopback HTTP.
//
// Driven by cmd/sidecar/e2e_test.go. Environment:
//   PORT  port to listen on (default 3980; 0 picks a free one)
//   HOST  address to listen on (default 127.0.0.1)
// It prints "listening on http://HOST:PORT/api/messages" once it is up.
// GET /api/received returns what POST /api/messages received (headers and
// raw body), so the test can see exactly what the sidecar forwarded.
//
// A message's text picks what the bot does: "update…" replies, edits and
// deletes the reply; "proactive…" sends with continueConversationAsync;
// "create…" opens a 1:1 with createConversationAsync ("create and send…"
// also posts in it); anything else is echoed as "echo: <text>".
'use strict';

const {
  ActivityHandler,
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  TurnContext,
} = require('botbuilder');
const { serveBot, shimResponse } = require('./bot-server');

// Empty credentials: authentication is the sidecar's job.
const adapter = new CloudAdapter(
  new ConfigurationBotFrameworkAuthentication({
    MicrosoftAppId: '',
    MicrosoftAppPassword: '',
    MicrosoftAppType: '',
    MicrosoftAppTenantId: '',
  }),
);

class EchoBot extends ActivityHandler {
  constructor() {
    super();
    this.onMessage(async (context, next) => {
      const text = context.activity.text || '';
      if (text.startsWith('update')) {
        // Reply, then edit and delete the reply: PUT and DELETE.
        const sent = await context.sendActivity('echo: ' + text);
        await context.updateActivity({ type: 'message', id: sent.id, text: 'edited: ' + text });
        await context.deleteActivity(sent.id);
      } else if (text.startsWith('proactive')) {
        // A proactive message with a stored conversation reference, what a
        // notification bot does later (botbuilder posts it as a reply to
        // the continuation activity's generated id).
        const ref = TurnContext.getConversationReference(context.activity);
        await adapter.continueConversationAsync('', ref, async (ctx) => {
          await ctx.sendActivity('proactive: ' + text);
        });
      } else if (text.startsWith('create')) {
        // A new 1:1 chat with the sender ("create and send": with a first
        // message in it, the usual way to start a proactive 1:1).
        const a = context.activity;
        await adapter.createConversationAsync(
          '',
          a.channelId,
          a.serviceUrl,
          'https://api.botframework.com',
          {
            isGroup: false,
            bot: a.recipient,
            members: [a.from],
            tenantId: a.conversation.tenantId,
            channelData: { tenant: { id: a.conversation.tenantId } },
          },
          async (ctx) => {
            if (text.includes('and send')) {
              await ctx.sendActivity('created: ' + text);
            }
          },
        );
      } else {
        await context.sendActivity('echo: ' + text);
      }
      await next();
    });
  }

  // Teams' Universal Action (Action.Execute) invoke: ActivityHandler turns
  // the returned value into the invoke response {status, body}, which the
  // CloudAdapter writes as the HTTP answer to the inbound POST. Other
  // invokes get botbuilder's own answers (400 for a non-Execute action,
  // 501 for an unknown invoke name).
  async onAdaptiveCardInvoke(context, invokeValue) {
    return {
      statusCode: 200,
      type: 'application/vnd.microsoft.activity.message',
      value: 'echo: ' + invokeValue.action.verb,
    };
  }
}

const bot = new EchoBot();

// CloudAdapter.process(req, res, logic) wants what express or restify hand
// it: req.method, req.headers, req.body already parsed, and a response
// (bot-server.js's shimResponse).
serveBot({
  name: 'botbuilder-bot',
  defaultPort: 3980,
  onMessage: (req, res, body) =>
    adapter.process({ method: req.method, headers: req.headers, body }, shimResponse(res), (context) => bot.run(context)),
});
