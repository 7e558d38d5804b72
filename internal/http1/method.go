package http1

// Method is a request method known to weft. Unknown methods that are still
// valid tokens parse as MethodOther and are answered 501.
type Method uint8

// The methods of RFC 9110 §9 and RFC 5789.
const (
	MethodOther Method = iota
	MethodGet
	MethodHead
	MethodPost
	MethodPut
	MethodDelete
	MethodConnect
	MethodOptions
	MethodTrace
	MethodPatch
)

var methodNames = [...]string{
	MethodOther:   "",
	MethodGet:     "GET",
	MethodHead:    "HEAD",
	MethodPost:    "POST",
	MethodPut:     "PUT",
	MethodDelete:  "DELETE",
	MethodConnect: "CONNECT",
	MethodOptions: "OPTIONS",
	MethodTrace:   "TRACE",
	MethodPatch:   "PATCH",
}

func (m Method) String() string { return methodNames[m] }

// MethodOf is the Method named by b: MethodOther for a name weft does not
// know. It does not allocate.
func MethodOf(b []byte) Method { return lookupMethod(b) }

func lookupMethod(b []byte) Method {
	switch len(b) {
	case 3:
		if string(b) == "GET" {
			return MethodGet
		}
		if string(b) == "PUT" {
			return MethodPut
		}
	case 4:
		if string(b) == "HEAD" {
			return MethodHead
		}
		if string(b) == "POST" {
			return MethodPost
		}
	case 5:
		if string(b) == "TRACE" {
			return MethodTrace
		}
		if string(b) == "PATCH" {
			return MethodPatch
		}
	case 6:
		if string(b) == "DELETE" {
			return MethodDelete
		}
	case 7:
		if string(b) == "OPTIONS" {
			return MethodOptions
		}
		if string(b) == "CONNECT" {
			return MethodConnect
		}
	}
	return MethodOther
}
