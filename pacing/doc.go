// Package pacing holds outbound Bot Connector calls until they fit the
// limits the channel publishes, instead of sending them into a 429.
//
// # Limits
//
// A Limit is data: a list of windows, "Count calls per Per", that a class
// of calls must fit all at once, written "7/1s,8/2s,60/30s,1800/1h"
// (ParseLimit). Teams publishes, per bot:
//
//   - per conversation, sends and creates: 7/1s, 8/2s, 60/30s, 1800/1h
//     (TeamsSend, TeamsCreate);
//   - per conversation, member and conversation reads: 14/1s, 16/2s,
//     120/30s, 3600/1h (TeamsRead);
//   - per tenant, all calls: 50/1s (TeamsTenant).
//
// Other channels, or a change of the published numbers, are other strings.
//
// # Counting
//
// Windows slide and are exact: a key remembers the time of each call it
// admitted within its longest period (at most the largest count of them,
// one ring shared by all its windows), and a window of N per P admits a
// call at t when the N-th most recent admission is at or before t-P. So
// "8/2s" means no 9th call in any span of 2 s, not 8 per clock-aligned
// 2 s bucket (which allows 16 across a boundary), and not a token bucket
// (which allows a burst plus the refill). A call counts in every window
// of its conversation and its tenant, at the moment it is admitted.
// Options.Margin widens every period, for the jitter between admission
// here and counting at the service.
//
// # Waiting, fairly
//
// Wait holds a call in two stages. First its conversation's queue, in
// arrival order (the order of one conversation's messages is kept): the
// head leaves it when every window of the conversation admits it. Then its
// tenant's queue, in the order the conversations released their heads: the
// tenant admits its head whenever its windows allow. A conversation has at
// most one call in the tenant's queue, and releases the next only when
// that one is admitted, so the tenant serves the conversations that have a
// call due round-robin. A burst of 10,000 messages in one conversation
// therefore delays another conversation's first message by at most one
// tenant slot per conversation with a call due (1/50 s each at the Teams
// limit), not by the burst; conversation windows are independent of each
// other altogether.
//
// The wait is bounded by Options.MaxWait. A call whose estimated wait is
// beyond the bound is refused at once; one that waits the whole bound (the
// estimate is a lower bound: other conversations' calls may be due first)
// is refused then. Either gets a *ThrottledError whose RetryAfter is the
// pacer's estimate of when a retry fits, for a 429 with Retry-After. A call
// whose context ends is dropped, uncounted.
//
// # Memory
//
// Key states live in two LRU tables (conversations per bot and class;
// tenants per bot) with caps. A state that no waiter points at is evicted
// when the table is full, oldest first, and idle ones (no call within
// their longest period) are dropped as new keys arrive, so memory follows
// the traffic. A state that waiters point at is never evicted (a second
// state for the key would double its budget). Held calls are capped by
// Options.MaxWaiters; past it calls are refused at once. A conversation at
// the full Teams send limit costs 1,800 timestamps (14 KiB); one that sent
// once costs a few.
//
// # Several replicas
//
// Each replica paces its share: with Options.Replicas n every count is
// divided by n, rounded down, so the replicas together stay within the
// published limits however a load balancer spreads the calls, with no
// shared state. A window that cannot be divided (7/1s over 8 replicas) is
// an error. Sharing the windows through Redis was rejected: it puts a
// round trip and a dependency on every send, and an exact sliding window
// across replicas needs a script per call; the sidecar runs few replicas,
// so the share costs little. With conversation-affine routing the
// conversation limits need no division; Options.Replicas divides all of
// them, to be safe by default.
package pacing
