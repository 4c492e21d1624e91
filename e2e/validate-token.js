// Validates a channel token with botframework-connector's own code, the
// validation every botbuilder-js bot runs on an inbound activity, so the
// Go tests can prove that the fake channel's tokens are ones a real SDK
// accepts (and that a tampered one is refused).
//
// Usage: node validate-token.js [TOKEN [OPENID_METADATA_URL]]
// Environment (argv wins):
//   TOKEN                the channel JWT, without "Bearer "
//   OPENID_METADATA_URL  the channel's OpenID metadata (the fake channel's)
//   CHANNEL_ISSUER       expected iss (default https://api.botframework.com)
//   APP_ID               the bot's app id: the expected audience
//   SERVICE_URL          the activity's serviceUrl: the serviceurl claim
//   CHANNEL_ID           the activity's channelId, checked against the key's
//                        endorsements (default msteams)
// The metadata host must be trusted: NODE_EXTRA_CA_CERTS=<its certificate>.
// Prints "ok <claims JSON>" and exits 0, or "error: <why>" and exits 1.
'use strict';

const {
  AuthenticationConstants,
  BotFrameworkAuthenticationFactory,
  PasswordServiceClientCredentialFactory,
} = require('botframework-connector');

async function main() {
  const token = process.argv[2] || process.env.TOKEN;
  const metadataUrl = process.argv[3] || process.env.OPENID_METADATA_URL;
  const issuer = process.env.CHANNEL_ISSUER || AuthenticationConstants.ToBotFromChannelTokenIssuer;
  const appId = process.env.APP_ID;
  const serviceUrl = process.env.SERVICE_URL;
  const channelId = process.env.CHANNEL_ID || 'msteams';
  if (!token || !metadataUrl || !appId || !serviceUrl) {
    throw new Error('need TOKEN, OPENID_METADATA_URL, APP_ID and SERVICE_URL');
  }

  // The public cloud's settings, with the two inbound ones pointed at the
  // fake channel: what ConfigurationBotFrameworkAuthentication builds from
  // ToBotFromChannelOpenIdMetadataUrl and ToBotFromChannelTokenIssuer.
  const auth = BotFrameworkAuthenticationFactory.create(
    '', // channelService: public cloud
    true, // validateAuthority
    AuthenticationConstants.ToChannelFromBotLoginUrl,
    AuthenticationConstants.ToChannelFromBotOAuthScope,
    issuer, // toBotFromChannelTokenIssuer
    AuthenticationConstants.OAuthUrl,
    metadataUrl, // toBotFromChannelOpenIdMetadataUrl
    AuthenticationConstants.ToBotFromEmulatorOpenIdMetadataUrl,
    '', // callerId
    new PasswordServiceClientCredentialFactory(appId, ''),
    { requiredEndorsements: [] },
  );
  const activity = { type: 'message', channelId, serviceUrl };
  const result = await auth.authenticateRequest(activity, 'Bearer ' + token);
  const identity = result.claimsIdentity;
  if (!identity || !identity.isAuthenticated) {
    throw new Error('not authenticated');
  }
  const claims = Object.fromEntries(identity.claims.map((c) => [c.type, c.value]));
  console.log('ok ' + JSON.stringify(claims));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.log('error: ' + ((err && err.message) || String(err)));
    process.exit(1);
  },
);
