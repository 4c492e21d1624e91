// The "any language" bot: no SDK, no auth code, nothing but Node's http
// module and the global fetch. It replies to every message by POSTing to
// the activity's serviceUrl (the sidecar), and makes the two classic
// mistakes on purpose (docs/behaviour.md): the raw app id as `from`
// instead of the channel account, and a Web Chat serviceUrl in the body of
// a Teams reply. The sidecar must fix both.
//
// Driven by cmd/sidecar/e2e_test.go. Environment:
//   PORT            port to listen on (default 3980; 0 picks a free one)
//   HOST            address to listen on (default 127.0.0.1)
//   MicrosoftAppId  the raw app id it wrongly puts in `from`
// It prints "listening on http://HOST:PORT/api/messages" once it is up.
// GET /api/received returns what POST /api/messages received.
'use strict';

const { answer, serveBot } = require('./bot-server');

const rawAppId = process.env.MicrosoftAppId || '00000000-0000-0000-0000-000000000000';

async function reply(activity, text) {
  const conv = activity.conversation;
  const url = `${activity.serviceUrl}v3/conversations/${encodeURIComponent(conv.id)}/activities/${activity.id}`;
  const resp = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      type: 'message',
      from: { id: rawAppId }, // wrong on Teams: should be 28:<appId>
      serviceUrl: 'https://webchat.botframework.com/', // wrong: not this conversation's
      // No conversation, recipient or channelId: the sidecar fills them.
      replyToId: activity.id,
      text,
    }),
  });
  return { status: resp.status, body: await resp.text() };
}

serveBot({
  name: 'fetch-bot',
  defaultPort: 3980,
  onMessage: async (req, res, activity) => {
    if (!activity || activity.type !== 'message') {
      answer(res, 200, {});
      return;
    }
    try {
      // Reply before answering, so a failed reply shows in the inbound answer.
      const r = await reply(activity, 'echo: ' + activity.text);
      if (r.status < 200 || r.status > 299) {
        answer(res, 502, { error: 'reply failed', replyStatus: r.status, replyBody: r.body });
        return;
      }
      answer(res, 200, {});
    } catch (err) {
      console.error('fetch-bot: reply failed:', err);
      answer(res, 502, { error: 'reply failed: ' + err.message });
    }
  },
});
