package serve

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// gRPC status codes serve answers with.
const (
	grpcInternal         = 13
	grpcResourcesExhaust = 8
	grpcPermissionDenied = 7
	grpcUnauthenticated  = 16
	grpcUnavailable      = 14
	grpcInvalidArgument  = 3
)

// isGRPC reports whether the request is a gRPC call.
func isGRPC(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc")
}

// answer answers without a backend: an HTTP status, or for gRPC calls a
// trailers-only gRPC status.
func answer(w http.ResponseWriter, r *http.Request, code, grpcCode int,
	msg string) {

	if isGRPC(r) {
		writeGRPCStatus(w, grpcCode, msg)
		return
	}
	http.Error(w, msg, code)
}

// refuse answers a request over a limit: 429 with Retry-After, or gRPC
// status 8.
func refuse(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	secs := int64(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	if isGRPC(r) {
		writeGRPCStatus(w, grpcResourcesExhaust, "rate limit exceeded")
		return
	}
	http.Error(w, "rate limit exceeded", http.StatusTooManyRequests)
}

// writeGRPCStatus answers a gRPC call trailers-only: HTTP 200 with the
// status in the headers and no body.
func writeGRPCStatus(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/grpc")
	w.Header().Set("Grpc-Status", strconv.Itoa(code))
	w.Header().Set("Grpc-Message", msg)
	w.WriteHeader(http.StatusOK)
}
