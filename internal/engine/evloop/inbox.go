package evloop

import "sync"

// Inbox is how other goroutines hand connections back to an event loop:
// the disk pool's answered requests (HandBack) and streamed bodies with
// more bytes (Notify). The loop takes both once a turn. Its lock also
// settles the loop's exit (Exit): from then on a connection handed back
// is its sender's to drop, and a notification is ignored, so nothing
// touches a loop, its poller or a descriptor that may have been reused
// once the loop is gone. Every event loop engine (epoll, poll, uring)
// uses one.
type Inbox[C any] struct {
	mu     sync.Mutex
	wake   func() // wakes the loop; called with mu held, never after Exit
	done   []C    // offloaded requests answered by the pool
	ready  []C    // connections whose streamed body has more bytes
	exited bool
}

// Init sets the function that wakes the loop. It runs under the inbox's
// lock and never once Exit has begun, so the loop may close what it uses
// (an eventfd, a poller) right after Exit.
func (b *Inbox[C]) Init(wake func()) { b.wake = wake }

// Wake wakes the loop from any goroutine, unless it has exited.
func (b *Inbox[C]) Wake() {
	b.mu.Lock()
	if !b.exited {
		b.wake()
	}
	b.mu.Unlock()
}

// HandBack queues c, whose offloaded request is answered, for its loop's
// next turn and wakes the loop. It reports false once the loop has
// exited: the caller then drops c itself.
func (b *Inbox[C]) HandBack(c C) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.exited {
		return false
	}
	b.done = append(b.done, c)
	b.wake()
	return true
}

// Notify queues c, whose streamed body has more bytes or ended, for its
// loop's next turn and wakes the loop; once the loop has exited it does
// nothing (the loop closed c).
func (b *Inbox[C]) Notify(c C) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.exited {
		return
	}
	b.ready = append(b.ready, c)
	b.wake()
}

// TakeDone returns the connections handed back since the last call.
func (b *Inbox[C]) TakeDone() []C {
	b.mu.Lock()
	done := b.done
	b.done = nil
	b.mu.Unlock()
	return done
}

// TakeReady returns the connections notified since the last call.
func (b *Inbox[C]) TakeReady() []C {
	b.mu.Lock()
	ready := b.ready
	b.ready = nil
	b.mu.Unlock()
	return ready
}

// Exit marks the loop exited and, under the same lock, calls decide with
// the connections handed back too late: decide settles which connections
// are the loop's to close and which their goroutines drop (HandBack
// reports false to them from now on).
func (b *Inbox[C]) Exit(decide func(late []C)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.exited = true
	late := b.done
	b.done, b.ready = nil, nil
	decide(late)
}
