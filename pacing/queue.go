package pacing

// link is a waiter's place in one queue.
type link struct{ prev, next *waiter }

// Which link of a waiter a queue threads through: a waiter sits in its
// conversation's queue and, once the conversation admits it, in its
// tenant's queue too.
const (
	inConversation = iota
	inTenant
)

// queue is an intrusive FIFO of waiters: O(1) push, pop and removal of a
// waiter that gives up, with no allocation.
type queue struct {
	head, tail *waiter
	n          int
	which      uint8
}

func (q *queue) push(w *waiter) {
	l := &w.links[q.which]
	l.prev, l.next = q.tail, nil
	if q.tail != nil {
		q.tail.links[q.which].next = w
	} else {
		q.head = w
	}
	q.tail = w
	q.n++
}

func (q *queue) remove(w *waiter) {
	l := &w.links[q.which]
	if l.prev != nil {
		l.prev.links[q.which].next = l.next
	} else {
		q.head = l.next
	}
	if l.next != nil {
		l.next.links[q.which].prev = l.prev
	} else {
		q.tail = l.prev
	}
	l.prev, l.next = nil, nil
	q.n--
}
