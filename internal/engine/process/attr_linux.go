package process

import "syscall"

// sysProcAttr makes a worker receive SIGTERM when the supervisor's forking
// thread dies, so that a supervisor killed with SIGKILL leaves no orphans.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// stopListening makes the shared listening socket refuse new connections,
// for every process holding it: on Linux, shutdown(2) with SHUT_RD on a
// listening socket moves it out of the LISTEN state and resets the
// connections waiting in its backlog.
func stopListening(fd int) { syscall.Shutdown(fd, syscall.SHUT_RD) }
