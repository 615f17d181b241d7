package serve

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/l402/l402/internal/adminrpc"
	"github.com/l402/l402/serve/dashboard"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The admin API's paths, Aperture's: gRPC methods under adminGRPCPrefix,
// REST under adminRESTPrefix.
const (
	adminGRPCPrefix = "/adminrpc.Admin/"
	adminRESTPrefix = "/api/admin/"

	// adminMacaroonHeader is grpc-gateway's header for the gRPC metadata
	// "macaroon", which Aperture's REST API reads.
	adminMacaroonHeader = "Grpc-Metadata-Macaroon"
	adminMacaroonMD     = "macaroon"
)

// adminHandler serves the admin API over HTTP: gRPC (HTTP/2, content type
// application/grpc) to the gRPC server, the rest to the REST routes, both
// behind the admin macaroon except GetHealth, and REST behind CORS as
// admin.corsorigin says.
type adminHandler struct {
	api     *adminAPI
	auth    *adminAuth
	grpc    *grpc.Server
	origins []string

	// dashboard serves the dashboard's files (serve/dashboard).
	dashboard http.Handler
}

// newAdminHandler builds the admin API's handler.
func newAdminHandler(api *adminAPI, auth *adminAuth,
	origins []string) *adminHandler {

	h := &adminHandler{api: api, auth: auth, origins: origins,
		dashboard: dashboard.Handler()}
	h.grpc = grpc.NewServer(grpc.ChainUnaryInterceptor(h.intercept))
	adminrpc.RegisterAdminServer(h.grpc, api)
	return h
}

// isAdminRequest reports whether a request is for the admin API.
func isAdminRequest(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, adminRESTPrefix) ||
		r.URL.Path == strings.TrimSuffix(adminRESTPrefix, "/") ||
		strings.HasPrefix(r.URL.Path, adminGRPCPrefix)
}

// ServeHTTP implements http.Handler.
func (h *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 && strings.HasPrefix(r.URL.Path, adminGRPCPrefix) &&
		isGRPC(r) {
		h.grpc.ServeHTTP(w, r)
		return
	}
	switch {
	case dashboard.Is(r.URL.Path):
		h.dashboard.ServeHTTP(w, r)
		return
	case r.URL.Path == "/":
		// Only on a listener of the admin API's own
		// (admin.listenaddr): its root is the dashboard.
		http.Redirect(w, r, dashboard.Prefix, http.StatusFound)
		return
	}
	h.cors(w, r)
	if r.Method == http.MethodOptions {
		return // a preflight: the CORS headers are the answer
	}
	h.rest(w, r)
}

// intercept checks the admin macaroon of every gRPC call but GetHealth.
func (h *adminHandler) intercept(ctx context.Context, req any,
	info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {

	if info.FullMethod != adminrpc.Admin_GetHealth_FullMethodName {
		var mac string
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if v := md.Get(adminMacaroonMD); len(v) > 0 {
				mac = v[0]
			}
		}
		if err := h.auth.check(mac); err != nil {
			return nil, status.Error(codes.Unauthenticated, err.Error())
		}
	}
	return next(ctx, req)
}

// cors sets the CORS headers of a request from an allowed origin, as lnd
// and Aperture do: none without admin.corsorigin or without an Origin.
func (h *adminHandler) cors(w http.ResponseWriter, r *http.Request) {
	if len(h.origins) == 0 {
		return
	}
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	if !slices.Contains(h.origins, "*") &&
		!slices.Contains(h.origins, origin) {
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Allow-Headers",
		"Content-Type, Accept, "+adminMacaroonHeader)
	w.Header().Set("Access-Control-Allow-Methods",
		"GET, POST, PUT, DELETE")
}

// restRoute is one REST path of Aperture's admin.yaml.
type restRoute struct {
	method string
	path   string // after adminRESTPrefix; {name} or {token_id} at the end
	body   bool   // the JSON body fills the request ("body: *")
	open   bool   // no macaroon needed
	call   func(ctx context.Context, a *adminAPI, in proto.Message) (
		proto.Message, error)
	in func() proto.Message
}

// restRoutes are Aperture's REST paths, in admin.yaml's order.
var restRoutes = []restRoute{
	{"GET", "info", false, false, func(ctx context.Context, a *adminAPI,
		in proto.Message) (proto.Message, error) {
		return a.GetInfo(ctx, in.(*adminrpc.GetInfoRequest))
	}, func() proto.Message { return &adminrpc.GetInfoRequest{} }},
	{"GET", "health", false, true, func(ctx context.Context, a *adminAPI,
		in proto.Message) (proto.Message, error) {
		return a.GetHealth(ctx, in.(*adminrpc.GetHealthRequest))
	}, func() proto.Message { return &adminrpc.GetHealthRequest{} }},
	{"GET", "services", false, false, func(ctx context.Context, a *adminAPI,
		in proto.Message) (proto.Message, error) {
		return a.ListServices(ctx, in.(*adminrpc.ListServicesRequest))
	}, func() proto.Message { return &adminrpc.ListServicesRequest{} }},
	{"POST", "services", true, false, func(ctx context.Context, a *adminAPI,
		in proto.Message) (proto.Message, error) {
		return a.CreateService(ctx, in.(*adminrpc.CreateServiceRequest))
	}, func() proto.Message { return &adminrpc.CreateServiceRequest{} }},
	{"PUT", "services/{name}", true, false, func(ctx context.Context,
		a *adminAPI, in proto.Message) (proto.Message, error) {
		return a.UpdateService(ctx, in.(*adminrpc.UpdateServiceRequest))
	}, func() proto.Message { return &adminrpc.UpdateServiceRequest{} }},
	{"DELETE", "services/{name}", false, false, func(ctx context.Context,
		a *adminAPI, in proto.Message) (proto.Message, error) {
		return a.DeleteService(ctx, in.(*adminrpc.DeleteServiceRequest))
	}, func() proto.Message { return &adminrpc.DeleteServiceRequest{} }},
	{"GET", "transactions", false, false, func(ctx context.Context,
		a *adminAPI, in proto.Message) (proto.Message, error) {
		return a.ListTransactions(ctx,
			in.(*adminrpc.ListTransactionsRequest))
	}, func() proto.Message { return &adminrpc.ListTransactionsRequest{} }},
	{"GET", "tokens", false, false, func(ctx context.Context, a *adminAPI,
		in proto.Message) (proto.Message, error) {
		return a.ListTokens(ctx, in.(*adminrpc.ListTokensRequest))
	}, func() proto.Message { return &adminrpc.ListTokensRequest{} }},
	{"DELETE", "tokens/{token_id}", false, false, func(ctx context.Context,
		a *adminAPI, in proto.Message) (proto.Message, error) {
		return a.RevokeToken(ctx, in.(*adminrpc.RevokeTokenRequest))
	}, func() proto.Message { return &adminrpc.RevokeTokenRequest{} }},
	{"GET", "stats", false, false, func(ctx context.Context, a *adminAPI,
		in proto.Message) (proto.Message, error) {
		return a.GetStats(ctx, in.(*adminrpc.GetStatsRequest))
	}, func() proto.Message { return &adminrpc.GetStatsRequest{} }},
}

// match finds the route of a method and path (after the prefix), and the
// value of its path parameter.
func match(method, rest string) (*restRoute, string, bool) {
	pathFound := false
	for i := range restRoutes {
		rt := &restRoutes[i]
		prefix, param, hasParam := strings.Cut(rt.path, "{")
		var value string
		switch {
		case !hasParam && rest == rt.path:
		case hasParam && strings.HasPrefix(rest, prefix) &&
			len(rest) > len(prefix) &&
			!strings.Contains(rest[len(prefix):], "/"):
			value = rest[len(prefix):]
			_ = param
		default:
			continue
		}
		pathFound = true
		if rt.method == method {
			return rt, value, true
		}
	}
	return nil, "", pathFound
}

// rest answers a REST request as grpc-gateway would: the request message
// from the path parameter, the query (GET, DELETE) or the JSON body, the
// reply as protojson with proto field names and every field, errors as a
// google.rpc.Status body with the gRPC code's HTTP status.
func (h *adminHandler) rest(w http.ResponseWriter, r *http.Request) {
	rt, param, pathFound := match(r.Method,
		strings.TrimPrefix(r.URL.Path, adminRESTPrefix))
	switch {
	case rt == nil && pathFound:
		restError(w, status.Error(codes.Unimplemented, "Method Not Allowed"),
			http.StatusMethodNotAllowed)
		return
	case rt == nil:
		restError(w, status.Error(codes.NotFound, "Not Found"), 0)
		return
	}
	if !rt.open {
		if err := h.auth.check(r.Header.Get(adminMacaroonHeader)); err != nil {
			restError(w, status.Error(codes.Unauthenticated, err.Error()), 0)
			return
		}
	}
	in := rt.in()
	if err := fill(in, r, rt.body, param); err != nil {
		restError(w, status.Error(codes.InvalidArgument, err.Error()), 0)
		return
	}
	out, err := rt.call(r.Context(), h.api, in)
	if err != nil {
		restError(w, err, 0)
		return
	}
	b, err := restJSON.Marshal(out)
	if err != nil {
		restError(w, status.Error(codes.Internal, err.Error()), 0)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// restJSON is grpc-gateway's marshaling as Aperture configures it.
var restJSON = protojson.MarshalOptions{UseProtoNames: true,
	EmitUnpopulated: true}

// maxRESTBody bounds a REST request's body.
const maxRESTBody = 1 << 20

// fill sets in from the request: its JSON body, or its query parameters
// (by proto or JSON field name, unknown ones ignored, as grpc-gateway
// does), then the path parameter.
func fill(in proto.Message, r *http.Request, body bool, param string) error {
	if body {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxRESTBody))
		if err != nil {
			return err
		}
		if len(b) > 0 {
			if err := protojson.Unmarshal(b, in); err != nil {
				return err
			}
		}
	} else if err := fillQuery(in, r.URL.Query()); err != nil {
		return err
	}
	if param != "" {
		v, err := url.PathUnescape(param)
		if err != nil {
			return err
		}
		fields := in.ProtoReflect().Descriptor().Fields()
		fd := fields.ByNumber(1) // name, token_id: field 1 of both
		in.ProtoReflect().Set(fd, protoreflect.ValueOfString(v))
	}
	return nil
}

// fillQuery sets the scalar fields named in q.
func fillQuery(in proto.Message, q url.Values) error {
	m := in.ProtoReflect()
	fields := m.Descriptor().Fields()
	for key, vals := range q {
		fd := fields.ByName(protoreflect.Name(key))
		if fd == nil {
			fd = fields.ByJSONName(key)
		}
		if fd == nil || len(vals) == 0 {
			continue
		}
		v := vals[len(vals)-1]
		switch fd.Kind() {
		case protoreflect.StringKind:
			m.Set(fd, protoreflect.ValueOfString(v))
		case protoreflect.Int32Kind:
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return errors.New("bad value for " + key + ": " + v)
			}
			m.Set(fd, protoreflect.ValueOfInt32(int32(n)))
		case protoreflect.Int64Kind:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errors.New("bad value for " + key + ": " + v)
			}
			m.Set(fd, protoreflect.ValueOfInt64(n))
		}
	}
	return nil
}

// restError writes err as grpc-gateway does: {"code", "message",
// "details"} with the code's HTTP status (httpStatus, when set, instead).
func restError(w http.ResponseWriter, err error, httpStatus int) {
	st := status.Convert(err)
	if httpStatus == 0 {
		httpStatus = httpStatusOf(st.Code())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(struct {
		Code    int32  `json:"code"`
		Message string `json:"message"`
		Details []any  `json:"details"`
	}{int32(st.Code()), st.Message(), []any{}})
}

// httpStatusOf is grpc-gateway's HTTPStatusFromCode.
func httpStatusOf(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return 499
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
