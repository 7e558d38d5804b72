//go:build !unix

package site

const openFlags = 0
