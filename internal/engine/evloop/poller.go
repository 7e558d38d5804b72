package evloop

import "time"

// Poller is the readiness API a loop needs; netpoll.Epoll and netpoll.Poll
// implement it.
type Poller interface {
	AddListener(fd int, exclusive bool) error
	Add(fd int) error
	SetWrite(fd int, on bool) error
	Remove(fd int) error
	// Forget is Remove for a descriptor about to be closed; epoll needs
	// no call, as closing drops the registration.
	Forget(fd int)
	Wait(timeout time.Duration, fn func(fd int, in, out, hup bool)) error
	Wake() error
	Close() error
}
