package iampolicy

import "testing"

func TestSourceIP(t *testing.T) {
	tests := []struct {
		in       string
		bad      bool
		reserved string
	}{
		{"203.0.113.0/24", false, ""},
		{"203.0.113.7", false, ""},
		{"2001:db8::/32", false, ""},
		{"10.1.2.0/24", false, "10.0.0.0/8"},
		{"172.31.0.1", false, "172.16.0.0/12"},
		{"100.64.0.0/10", false, "100.64.0.0/10"},
		{"fd00::1", false, "fc00::/7"},
		{"::ffff:10.0.0.1", false, "10.0.0.0/8"}, // mapped: judged as IPv4
		{"8.0.0.0/6", false, ""},                 // contains 10/8 but is not inside it
		{"203.0.113.0/33", true, ""},
		{"fe80::1%eth0", true, ""},
		{"office", true, ""},
	}
	for _, tt := range tests {
		p, err := ParseIPValue(tt.in)
		if (err != nil) != tt.bad {
			t.Errorf("%s: err = %v", tt.in, err)
			continue
		}
		if err != nil {
			continue
		}
		r, ok := ReservedRange(p.Masked())
		if ok != (tt.reserved != "") || ok && r.String() != tt.reserved {
			t.Errorf("%s: reserved = %v %v, want %q", tt.in, r, ok, tt.reserved)
		}
	}
}
