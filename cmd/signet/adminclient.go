package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/viper"
)

// adminCall sends one request to the running server's admin API (--admin, SIGNET_ADMIN_ADDR)
// and returns the body of a 2xx answer; any other answer becomes an error carrying the API's
// error code and message.
func adminCall(v *viper.Viper, method, path string, body any) ([]byte, error) {
	if err := readConfig(v); err != nil {
		return nil, err
	}
	addr := v.GetString("admin.addr")
	if addr == "" || addr == "off" {
		return nil, fmt.Errorf("the admin API is off (--admin): cannot reach the server")
	}
	base := addr
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		base = "http://" + base
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := v.GetString("admin.token"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin API %s: %w (is signet serve running?)", addr, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal(out, &e) == nil && e.Error.Code != "" {
			return nil, fmt.Errorf("%s: %s", e.Error.Code, e.Error.Message)
		}
		return nil, fmt.Errorf("admin API %s %s: %s", method, path, resp.Status)
	}
	return out, nil
}
