package main

// Identities of the benchmark: recognisably fake.
const (
	benchAppID    = "00000000-0000-4000-8000-0000000be4c1"
	benchTenantID = "00000000-0000-4000-8000-0000000a7e17"
	benchSecret   = "bench-secret-never-printed"
	benchConvID   = "a:1bench-personal-chat"
	// benchPath is the bot's send, with the conversation id percent-encoded
	// the way botbuilder-js sends it.
	benchPath = "/v3/conversations/a%3A1bench-personal-chat/activities"
)

// benchActivity is what a botbuilder-js bot POSTs for a typical Teams reply
// with an Adaptive Card (about 1.7 KB), with the two classic mistakes the
// sidecar corrects: the raw app id in from and the serviceUrl it was handed.
// The baselines forward it unchanged; the sidecar rewrites from and
// serviceUrl in place.
const benchActivity = `{"type":"message","serviceUrl":"http://127.0.0.1:3979/","channelId":"msteams",` +
	`"from":{"id":"` + benchAppID + `","name":"Bench bot"},` +
	`"conversation":{"conversationType":"personal","tenantId":"` + benchTenantID + `","id":"` + benchConvID + `"},` +
	`"recipient":{"id":"29:1bench-user-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","name":"Ada Lovelace","aadObjectId":"6b1bd5a3-0000-4000-8000-00000000b0b0"},` +
	`"text":"Here is this week's summary for the support team.","textFormat":"markdown","inputHint":"acceptingInput","locale":"en-US","replyToId":"1712345678901",` +
	`"attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard","$schema":"http://adaptivecards.io/schemas/adaptive-card.json","version":"1.5",` +
	`"body":[{"type":"TextBlock","size":"Medium","weight":"Bolder","text":"Weekly report: support"},` +
	`{"type":"FactSet","facts":[{"title":"Open tickets","value":"12"},{"title":"Closed this week","value":"31"},{"title":"Median time to close","value":"2 d 4 h"},{"title":"Owner","value":"Ada Lovelace"}]},` +
	`{"type":"TextBlock","wrap":true,"text":"Three tickets are past their SLA; the oldest was opened on 2026-11-02 by the Contoso support desk and is waiting on a vendor fix."}],` +
	`"actions":[{"type":"Action.OpenUrl","title":"Open dashboard","url":"https://contoso.example/dashboard?team=support&week=47"},` +
	`{"type":"Action.Submit","title":"Acknowledge","data":{"action":"ack","reportId":"r-2026-47","msteams":{"type":"messageBack","displayText":"Acknowledged"}}}]}}],` +
	`"entities":[{"type":"clientInfo","locale":"en-US","country":"US","platform":"Web","timezone":"Europe/Berlin"}],` +
	`"channelData":{"tenant":{"id":"` + benchTenantID + `"},"notification":{"alert":true}}}`

// inboundActivity is the channel's signed activity that stores the
// conversation reference in the sidecar before the benchmark.
func inboundActivity(serviceURL string) string {
	return inboundActivityFor(serviceURL, benchConvID, "29:1bench-user-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "1712345678901")
}

// inboundActivityFor is a user's message in their personal chat with the
// bot, as the channel delivers it; ids are JSON-safe by construction.
func inboundActivityFor(serviceURL, conversationID, userID, activityID string) string {
	return `{"type":"message","id":"` + activityID + `","timestamp":"2026-11-23T10:00:00.123Z","serviceUrl":"` + serviceURL + `","channelId":"msteams",` +
		`"from":{"id":"` + userID + `","name":"Ada Lovelace","aadObjectId":"6b1bd5a3-0000-4000-8000-00000000b0b0"},` +
		`"conversation":{"conversationType":"personal","tenantId":"` + benchTenantID + `","id":"` + conversationID + `"},` +
		`"recipient":{"id":"28:` + benchAppID + `","name":"Bench bot"},"textFormat":"plain","locale":"en-US","text":"report please",` +
		`"channelData":{"tenant":{"id":"` + benchTenantID + `"}}}`
}
