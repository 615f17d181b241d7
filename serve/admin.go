package serve

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/l402/l402/internal/adminrpc"
	"github.com/l402/l402/internal/buildinfo"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/store"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// adminAPI answers adminrpc.Admin for one server: the same calls over
// gRPC and REST (admin_http.go), each but GetHealth behind the admin
// macaroon.
type adminAPI struct {
	adminrpc.UnimplementedAdminServer
	s *server

	// wait is how long RevokeToken waits before it answers, so that
	// every replica refuses the token by then (the revocation lease).
	wait time.Duration
}

// Paging: Aperture's default and largest page.
const (
	defaultPageLimit = 50
	maxPageLimit     = 1000
)

// GetHealth implements adminrpc.AdminServer; it needs no macaroon.
func (a *adminAPI) GetHealth(context.Context, *adminrpc.GetHealthRequest) (
	*adminrpc.GetHealthResponse, error) {

	return &adminrpc.GetHealthResponse{Status: "ok"}, nil
}

// GetInfo implements adminrpc.AdminServer.
func (a *adminAPI) GetInfo(context.Context, *adminrpc.GetInfoRequest) (
	*adminrpc.GetInfoResponse, error) {

	cfg := a.s.cfg
	network := a.s.info.Network
	if network == "" {
		network = cfg.Authenticator.Network
	}
	return &adminrpc.GetInfoResponse{
		Network:         network,
		ListenAddr:      cfg.ListenAddr,
		Insecure:        cfg.Insecure,
		Version:         buildinfo.Current("", "").Version,
		AdminListenAddr: cfg.Admin.ListenAddr,
	}, nil
}

// ListServices implements adminrpc.AdminServer: the services in force,
// each with where it comes from.
func (a *adminAPI) ListServices(context.Context,
	*adminrpc.ListServicesRequest) (*adminrpc.ListServicesResponse, error) {

	eff := *a.s.sync.services.Load()
	out := &adminrpc.ListServicesResponse{
		Services: make([]*adminrpc.Service, 0, len(eff))}
	for _, e := range eff {
		out.Services = append(out.Services, serviceProto(e))
	}
	return out, nil
}

// serviceProto is a service in force as the API shows it.
func serviceProto(e effectiveService) *adminrpc.Service {
	sc := e.cfg
	protocol := sc.Protocol
	if protocol == "" {
		protocol = "http"
	}
	out := &adminrpc.Service{Name: sc.Name, Address: sc.Address,
		Protocol: protocol, Price: sc.Price, Auth: sc.Auth.String(),
		Source: e.source, DynamicPrice: sc.DynamicPrice.Enabled ||
			sc.Meter != nil,
		Mode: modeOf(sc)}
	if sc.HostRegexp.Regexp != nil {
		out.HostRegexp = sc.HostRegexp.String()
	}
	if sc.PathRegexp.Regexp != nil {
		out.PathRegexp = sc.PathRegexp.String()
	}
	if sc.DynamicPrice.Enabled || sc.Meter != nil {
		out.Price = 0
	}
	return out
}

// find returns the service in force of a name.
func (a *adminAPI) find(name string) (effectiveService, bool) {
	for _, e := range *a.s.sync.services.Load() {
		if e.cfg.Name == name {
			return e, true
		}
	}
	return effectiveService{}, false
}

// authScheme checks a requested scheme: l402 serves L402 only.
func authScheme(s adminrpc.AuthScheme) (*string, error) {
	if s != adminrpc.AuthScheme_AUTH_SCHEME_L402 {
		return nil, status.Errorf(codes.InvalidArgument, "auth_scheme %s "+
			"is not served: only AUTH_SCHEME_L402 is", s)
	}
	v := store.SchemeL402
	return &v, nil
}

// CreateService implements adminrpc.AdminServer: a service of the API's
// own, stored for every replica and in force here at once.
func (a *adminAPI) CreateService(ctx context.Context,
	req *adminrpc.CreateServiceRequest) (*adminrpc.Service, error) {

	switch {
	case req.Name == "":
		return nil, status.Error(codes.InvalidArgument, "name is required")
	case req.Address == "":
		return nil, status.Error(codes.InvalidArgument,
			"address is required")
	case req.Price < 0:
		return nil, status.Error(codes.InvalidArgument,
			"price must be >= 0")
	}
	if _, ok := a.find(req.Name); ok {
		return nil, status.Errorf(codes.AlreadyExists, "service %q "+
			"already exists", req.Name)
	}
	scheme, err := authScheme(req.AuthScheme)
	if err != nil {
		return nil, err
	}
	protocol, host := req.Protocol, req.HostRegexp
	if protocol == "" {
		protocol = "http"
	}
	if host == "" {
		host = ".*"
	}
	price := req.Price
	row := store.ServiceRow{Name: req.Name, Created: true,
		Address: &req.Address, Protocol: &protocol, HostRegexp: &host,
		PathRegexp: &req.PathRegexp, Price: &price, Auth: &req.Auth,
		AuthScheme: scheme}
	return a.put(ctx, row)
}

// UpdateService implements adminrpc.AdminServer: the fields set change
// (price even to 0), the others stay; a service of the config file keeps
// its other keys (capabilities, rate limits, ...).
func (a *adminAPI) UpdateService(ctx context.Context,
	req *adminrpc.UpdateServiceRequest) (*adminrpc.Service, error) {

	if req.Name == "" {
		return nil, status.Error(codes.InvalidArgument,
			"missing service name")
	}
	e, ok := a.find(req.Name)
	if !ok {
		return nil, status.Errorf(codes.NotFound, "service %q not found",
			req.Name)
	}
	row := a.row(req.Name)
	set := func(dst **string, v string) {
		if v != "" {
			*dst = &v
		}
	}
	set(&row.Address, req.Address)
	set(&row.Protocol, req.Protocol)
	set(&row.HostRegexp, req.HostRegexp)
	set(&row.PathRegexp, req.PathRegexp)
	set(&row.Auth, req.Auth)
	if req.Price != nil {
		if e.cfg.DynamicPrice.Enabled {
			return nil, status.Errorf(codes.FailedPrecondition, "service "+
				"%q is priced by its price server (dynamicprice): "+
				"change the price there", req.Name)
		}
		if *req.Price < 0 {
			return nil, status.Error(codes.InvalidArgument,
				"price must be >= 0")
		}
		row.Price = req.Price
	}
	if req.AuthScheme != adminrpc.AuthScheme_AUTH_SCHEME_L402 {
		if _, err := authScheme(req.AuthScheme); err != nil {
			return nil, err
		}
	}
	return a.put(ctx, row)
}

// row returns the stored row of a name, or a new overlay row.
func (a *adminAPI) row(name string) store.ServiceRow {
	st := a.s.sync
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, r := range st.rows {
		if r.Name == name {
			return r
		}
	}
	return store.ServiceRow{Name: name}
}

// put checks a row against the services in force, stores it and applies
// it here; other replicas apply it within the sync interval.
func (a *adminAPI) put(ctx context.Context, row store.ServiceRow) (
	*adminrpc.Service, error) {

	row.UpdatedAt = time.Now()
	if err := a.checkRow(row); err != nil {
		return nil, err
	}
	if err := a.s.db.PutServiceRow(ctx, row); err != nil {
		return nil, internal(a.s, "unable to store the service", err)
	}
	if err := a.apply(ctx); err != nil {
		return nil, err
	}
	e, ok := a.find(row.Name)
	if !ok {
		return nil, status.Errorf(codes.Internal, "service %q was stored "+
			"but is not in force: see serve's log", row.Name)
	}
	return serviceProto(e), nil
}

// checkRow refuses a row that would not make a valid service with the
// others, before it is stored.
func (a *adminAPI) checkRow(row store.ServiceRow) error {
	st := a.s.sync
	st.mu.Lock()
	rows := make([]store.ServiceRow, 0, len(st.rows)+1)
	for _, r := range st.rows {
		if r.Name != row.Name {
			rows = append(rows, r)
		}
	}
	file := st.file
	st.mu.Unlock()
	if row.Created {
		row.Seq = 1 << 62 // last among the created
	}
	rows = append(rows, row)
	_, bad := mergeServices(file.Services, rows)
	for _, err := range bad {
		if strings.Contains(err.Error(), fmt.Sprintf("%q", row.Name)) {
			return status.Error(codes.InvalidArgument, err.Error())
		}
	}
	merged, _ := a.s.merged(file, rows)
	h, err := NewHandler(merged, nil, HandlerOptions{
		DialPricer: func(DynamicPriceConfig) (Pricer, error) {
			return nil, nil
		}})
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	h.Close()
	return nil
}

// apply rebuilds this replica's handler from the stored rows.
func (a *adminAPI) apply(ctx context.Context) error {
	a.s.sync.mu.Lock()
	file := a.s.sync.file
	a.s.sync.mu.Unlock()
	if _, err := a.s.loadServices(ctx, file); err != nil {
		return internal(a.s, "the change is stored but could not be "+
			"applied here", err)
	}
	return nil
}

// DeleteService implements adminrpc.AdminServer. A config file's service
// stays deleted (a row says so) until the API creates one of its name.
func (a *adminAPI) DeleteService(ctx context.Context,
	req *adminrpc.DeleteServiceRequest) (*adminrpc.DeleteServiceResponse,
	error) {

	if req.Name == "" {
		return nil, status.Error(codes.InvalidArgument,
			"missing service name")
	}
	if _, ok := a.find(req.Name); !ok {
		return nil, status.Errorf(codes.NotFound, "service %q not found",
			req.Name)
	}
	inFile := false
	for _, sc := range a.s.sync.file.Services {
		inFile = inFile || sc.Name == req.Name
	}
	var err error
	if inFile {
		err = a.s.db.PutServiceRow(ctx, store.ServiceRow{Name: req.Name,
			Deleted: true, UpdatedAt: time.Now()})
	} else {
		_, err = a.s.db.DeleteServiceRow(ctx, req.Name)
	}
	if err != nil {
		return nil, internal(a.s, "unable to delete the service", err)
	}
	if err := a.apply(ctx); err != nil {
		return nil, err
	}
	return &adminrpc.DeleteServiceResponse{Status: "deleted"}, nil
}

// page reads Aperture's limit and offset.
func page(limit, offset int32) (int, int, error) {
	if offset < 0 {
		return 0, 0, status.Error(codes.InvalidArgument,
			"offset must be >= 0")
	}
	l := int(limit)
	switch {
	case l <= 0:
		l = defaultPageLimit
	case l > maxPageLimit:
		l = maxPageLimit
	}
	return l, int(offset), nil
}

// timeRange reads an RFC 3339 range whose ends are set together.
func timeRange(fromName, from, toName, to string) (time.Time, time.Time,
	error) {

	if (from == "") != (to == "") {
		return time.Time{}, time.Time{}, status.Errorf(
			codes.InvalidArgument, "both %s and %s must be set together",
			fromName, toName)
	}
	if from == "" {
		return time.Time{}, time.Time{}, nil
	}
	f, err := time.Parse(time.RFC3339, from)
	if err != nil {
		return f, f, status.Errorf(codes.InvalidArgument, "invalid %s "+
			"format: use RFC 3339, such as 2026-01-02T00:00:00Z", fromName)
	}
	t, err := time.Parse(time.RFC3339, to)
	if err != nil {
		return f, t, status.Errorf(codes.InvalidArgument, "invalid %s "+
			"format: use RFC 3339, such as 2026-01-02T00:00:00Z", toName)
	}
	if t.Before(f) {
		return f, t, status.Errorf(codes.InvalidArgument, "%s must be >= "+
			"%s", toName, fromName)
	}
	return f, t, nil
}

// ListTransactions implements adminrpc.AdminServer.
func (a *adminAPI) ListTransactions(ctx context.Context,
	req *adminrpc.ListTransactionsRequest) (
	*adminrpc.ListTransactionsResponse, error) {

	limit, offset, err := page(req.Limit, req.Offset)
	if err != nil {
		return nil, err
	}
	switch req.State {
	case "", store.StatePending, store.StateSettled, store.StateCanceled:
	default:
		return nil, status.Errorf(codes.InvalidArgument, "invalid state "+
			"%q, must be 'pending', 'settled' or 'canceled'", req.State)
	}
	from, to, err := timeRange("start_date", req.StartDate, "end_date",
		req.EndDate)
	if err != nil {
		return nil, err
	}
	txs, total, err := a.s.db.Transactions(ctx, store.TransactionFilter{
		Service: req.Service, State: req.State, From: from, To: to,
		Limit: limit, Offset: offset})
	if err != nil {
		return nil, internal(a.s, "failed to list transactions", err)
	}
	return &adminrpc.ListTransactionsResponse{
		Transactions: transactionsProto(txs), TotalCount: total}, nil
}

// ListTokens implements adminrpc.AdminServer: settled, unrevoked
// transactions, whose tokens clients may use.
func (a *adminAPI) ListTokens(ctx context.Context,
	req *adminrpc.ListTokensRequest) (*adminrpc.ListTokensResponse, error) {

	limit, offset, err := page(req.Limit, req.Offset)
	if err != nil {
		return nil, err
	}
	txs, total, err := a.s.db.Transactions(ctx, store.TransactionFilter{
		Tokens: true, Limit: limit, Offset: offset})
	if err != nil {
		return nil, internal(a.s, "failed to list tokens", err)
	}
	return &adminrpc.ListTokensResponse{Tokens: transactionsProto(txs),
		TotalCount: total}, nil
}

// RevokeToken implements adminrpc.AdminServer. It answers once the lease
// has passed, when every replica refuses the token.
func (a *adminAPI) RevokeToken(ctx context.Context,
	req *adminrpc.RevokeTokenRequest) (*adminrpc.RevokeTokenResponse,
	error) {

	if req.TokenId == "" {
		return nil, status.Error(codes.InvalidArgument, "missing token ID")
	}
	raw, err := hex.DecodeString(req.TokenId)
	if err != nil || len(raw) != len(l402.TokenID{}) {
		return nil, status.Errorf(codes.InvalidArgument, "token ID must "+
			"be %d bytes of hex", len(l402.TokenID{}))
	}
	id := l402.TokenID(raw)
	if _, err := a.s.db.TransactionByToken(ctx, id); errors.Is(err,
		store.ErrNotFound) {
		return nil, status.Error(codes.NotFound, "token not found")
	} else if err != nil {
		return nil, internal(a.s, "failed to look up token", err)
	}
	err = a.s.db.Revoke(ctx, id, time.Now())
	switch {
	case errors.Is(err, store.ErrAlreadyRevoked):
	case err != nil:
		return nil, internal(a.s, "failed to revoke the token", err)
	}
	// Refused here at once; on the other replicas once the lease passed.
	if err := a.s.sync.revoked.refresh(ctx); err != nil {
		return nil, internal(a.s, "the token is revoked but could not "+
			"be read back", err)
	}
	select {
	case <-time.After(a.wait):
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	return &adminrpc.RevokeTokenResponse{Status: "revoked"}, nil
}

// GetStats implements adminrpc.AdminServer: Aperture's revenue figures
// (settled transactions in the range), and l402's challenges, paid
// requests, shadow mode's would-be challenges and revenue, and days.
func (a *adminAPI) GetStats(ctx context.Context,
	req *adminrpc.GetStatsRequest) (*adminrpc.GetStatsResponse, error) {

	from, to, err := timeRange("'from'", req.From, "'to'", req.To)
	if err != nil {
		return nil, err
	}
	days, err := a.s.db.DailyStats(ctx, from, to)
	if err != nil {
		return nil, internal(a.s, "failed to get revenue stats", err)
	}
	out := &adminrpc.GetStatsResponse{}
	by := map[string]*adminrpc.ServiceRevenue{}
	for _, d := range days {
		out.Daily = append(out.Daily, &adminrpc.DailyStats{Date: d.Date,
			ServiceName: d.Service, RevenueSats: d.RevenueSat,
			TransactionCount: d.Settled, Challenges: d.Challenges,
			PaidRequests: d.PaidRequests, ShadowChallenges: d.ShadowChallenges,
			ShadowRevenueSats: d.ShadowRevenueSat})
		out.TotalRevenueSats += d.RevenueSat
		out.TransactionCount += d.Settled
		out.Challenges += d.Challenges
		out.PaidRequests += d.PaidRequests
		out.ShadowChallenges += d.ShadowChallenges
		out.ShadowRevenueSats += d.ShadowRevenueSat
		sr := by[d.Service]
		if sr == nil {
			sr = &adminrpc.ServiceRevenue{ServiceName: d.Service}
			by[d.Service] = sr
			out.ServiceBreakdown = append(out.ServiceBreakdown, sr)
		}
		sr.TotalRevenueSats += d.RevenueSat
		sr.TransactionCount += d.Settled
		sr.Challenges += d.Challenges
		sr.PaidRequests += d.PaidRequests
		sr.ShadowChallenges += d.ShadowChallenges
		sr.ShadowRevenueSats += d.ShadowRevenueSat
	}
	return out, nil
}

// transactionsProto is transactions as the API shows them.
func transactionsProto(txs []store.Transaction) []*adminrpc.Transaction {
	out := make([]*adminrpc.Transaction, 0, len(txs))
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, t := range txs {
		out = append(out, &adminrpc.Transaction{Id: int32(t.ID),
			TokenId: t.TokenID.String(), PaymentHash: hex.EncodeToString(
				t.PaymentHash[:]), ServiceName: t.Service,
			PriceSats: t.PriceSat, State: t.State,
			CreatedAt: stamp(t.CreatedAt), SettledAt: stamp(t.SettledAt),
			Scheme: t.Scheme, CanceledAt: stamp(t.CanceledAt),
			RevokedAt: stamp(t.RevokedAt)})
	}
	return out
}

// internal logs err and returns a status that does not show it.
func internal(s *server, msg string, err error) error {
	s.log.Error("admin API: "+msg, "err", err)
	return status.Error(codes.Internal, msg)
}
