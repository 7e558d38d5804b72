package tlsx

import "time"

// NewWithOCSPRetry is New with a shorter first retry after an OCSP failure.
func NewWithOCSPRetry(o Options, retry time.Duration) (*Manager, error) { return newManager(o, retry) }

// RotateTicketKeys does at once what the 12-hour ticker does.
func (m *Manager) RotateTicketKeys() error { return m.rotateTicketKeys() }
