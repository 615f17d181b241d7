package admin

import (
	"fmt"
	"strconv"

	"github.com/l402/l402/internal/adminrpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// JSON is an answer as `--json` prints it: the REST API's JSON (proto
// field names, every field, 64-bit numbers as strings), on one line.
func JSON(m proto.Message) ([]byte, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: true,
		EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	// protojson may add spaces at random: compact it for one stable line.
	var out []byte
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\n'):
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// Table is an answer as rows under a header, for people.
func Table(m proto.Message) ([]string, [][]string) {
	switch v := m.(type) {
	case *adminrpc.ListServicesResponse:
		return serviceRows(v.Services...)
	case *adminrpc.Service:
		return serviceRows(v)
	case *adminrpc.ListTransactionsResponse:
		return transactionRows(v.Transactions)
	case *adminrpc.ListTokensResponse:
		return transactionRows(v.Tokens)
	case *adminrpc.GetStatsResponse:
		return statsRows(v)
	case *adminrpc.GetInfoResponse:
		return []string{"network", "listen", "insecure", "version"},
			[][]string{{v.Network, v.ListenAddr,
				strconv.FormatBool(v.Insecure), v.Version}}
	case *adminrpc.GetHealthResponse:
		return []string{"status"}, [][]string{{v.Status}}
	case *adminrpc.DeleteServiceResponse:
		return []string{"status"}, [][]string{{v.Status}}
	case *adminrpc.RevokeTokenResponse:
		return []string{"status"}, [][]string{{v.Status}}
	}
	return []string{"answer"}, [][]string{{fmt.Sprint(m)}}
}

// serviceRows are services as rows.
func serviceRows(svcs ...*adminrpc.Service) ([]string, [][]string) {
	rows := make([][]string, 0, len(svcs))
	for _, s := range svcs {
		price := strconv.FormatInt(s.Price, 10) + " sat"
		if s.DynamicPrice {
			price = "dynamic"
		}
		rows = append(rows, []string{s.Name, s.Source, price, s.Auth,
			s.Mode, s.HostRegexp, s.PathRegexp,
			s.Protocol + "://" + s.Address})
	}
	return []string{"name", "source", "price", "auth", "mode", "host",
		"path", "backend"}, rows
}

// transactionRows are transactions as rows.
func transactionRows(txs []*adminrpc.Transaction) ([]string, [][]string) {
	rows := make([][]string, 0, len(txs))
	for _, t := range txs {
		state := t.State
		if t.RevokedAt != "" {
			state += " (revoked)"
		}
		rows = append(rows, []string{strconv.Itoa(int(t.Id)),
			t.ServiceName, strconv.FormatInt(t.PriceSats, 10), state,
			t.CreatedAt, t.SettledAt, t.TokenId})
	}
	return []string{"id", "service", "sat", "state", "created", "settled",
		"token"}, rows
}

// statsRows are the statistics by service, then the total.
func statsRows(s *adminrpc.GetStatsResponse) ([]string, [][]string) {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	var rows [][]string
	for _, b := range s.ServiceBreakdown {
		rows = append(rows, []string{b.ServiceName, n(b.TotalRevenueSats),
			n(b.TransactionCount), n(b.Challenges), n(b.PaidRequests),
			n(b.ShadowChallenges), n(b.ShadowRevenueSats)})
	}
	rows = append(rows, []string{"(total)", n(s.TotalRevenueSats),
		n(s.TransactionCount), n(s.Challenges), n(s.PaidRequests),
		n(s.ShadowChallenges), n(s.ShadowRevenueSats)})
	return []string{"service", "revenue sat", "settled", "402s",
		"paid requests", "shadow 402s", "shadow sat"}, rows
}
