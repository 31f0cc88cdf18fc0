package urls

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is Lambda's payload format 2.0 request event, as function URLs send it.
type Event struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	RequestContext        RequestContext    `json:"requestContext"`
	Body                  string            `json:"body,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
}

// RequestContext is the event's requestContext.
type RequestContext struct {
	AccountID    string      `json:"accountId"`
	APIID        string      `json:"apiId"`
	DomainName   string      `json:"domainName"`
	DomainPrefix string      `json:"domainPrefix"`
	HTTP         HTTPContext `json:"http"`
	RequestID    string      `json:"requestId"`
	RouteKey     string      `json:"routeKey"`
	Stage        string      `json:"stage"`
	Time         string      `json:"time"`
	TimeEpoch    int64       `json:"timeEpoch"`
}

// HTTPContext is requestContext.http.
type HTTPContext struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// Response is the structured answer a function may give (payload format 2.0).
type Response struct {
	// StatusCode is decoded by parseResponse: Lambda takes a JSON number or a string of
	// digits ("418").
	StatusCode      int               `json:"-"`
	Headers         map[string]string `json:"headers,omitempty"`
	Cookies         []string          `json:"cookies,omitempty"`
	Body            string            `json:"body,omitempty"`
	IsBase64Encoded bool              `json:"isBase64Encoded,omitempty"`
}

// eventTimeLayout is requestContext.time, e.g. 12/Mar/2020:19:03:58 +0000.
const eventTimeLayout = "02/Jan/2006:15:04:05 -0700"

// newEvent builds the event for r, whose path below the URL's root is rawPath.
func newEvent(r *http.Request, body []byte, c Config, account, domain, requestID, rawPath string, now time.Time) Event {
	e := Event{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        rawPath,
		RawQueryString: r.URL.RawQuery,
		Headers:        make(map[string]string, len(r.Header)+1),
		RequestContext: RequestContext{
			AccountID: account, APIID: c.URLID, DomainName: domain, DomainPrefix: c.URLID,
			HTTP: HTTPContext{Method: r.Method, Path: rawPath, Protocol: r.Proto,
				SourceIP: sourceIP(r.RemoteAddr), UserAgent: r.UserAgent()},
			RequestID: requestID, RouteKey: "$default", Stage: "$default",
			Time: now.UTC().Format(eventTimeLayout), TimeEpoch: now.UnixMilli(),
		},
	}
	// Lambda lower-cases header names, joins repeated values with commas and moves
	// cookies into their own list.
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						e.Cookies = append(e.Cookies, c)
					}
				}
			}
			continue
		}
		e.Headers[lk] = strings.Join(vs, ",")
	}
	e.Headers["host"] = r.Host
	if r.URL.RawQuery != "" {
		if q, err := url.ParseQuery(r.URL.RawQuery); err == nil {
			e.QueryStringParameters = make(map[string]string, len(q))
			for k, vs := range q {
				e.QueryStringParameters[k] = strings.Join(vs, ",")
			}
		}
	}
	if len(body) > 0 {
		if isText(r.Header.Get("Content-Type")) && utf8.Valid(body) {
			e.Body = string(body)
		} else {
			e.Body, e.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return e
}

// isText reports whether Lambda passes a body of this content type as text (else base64).
func isText(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	if strings.HasPrefix(mt, "text/") {
		return true
	}
	switch mt {
	case "application/json", "application/javascript", "application/xml",
		"application/x-www-form-urlencoded", "application/yaml":
		return true
	}
	return strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml")
}

func sourceIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

// parseResponse turns a function's payload into the HTTP answer. A JSON object with a
// statusCode is a structured response; a JSON string is the text of a 200 (unquoted, as
// Lambda answers "hello" with hello); anything else is the body of a 200 as is. The
// Content-Type (application/json unless the function gives one) is writeResult's.
func parseResponse(payload []byte) (Response, []byte, error) {
	inferred := Response{StatusCode: http.StatusOK}
	var probe map[string]json.RawMessage
	if json.Unmarshal(payload, &probe) != nil {
		var text string
		if json.Unmarshal(payload, &text) == nil {
			return inferred, []byte(text), nil
		}
		return inferred, payload, nil
	}
	raw, ok := probe["statusCode"]
	if !ok {
		return inferred, payload, nil
	}
	var r Response
	if err := json.Unmarshal(payload, &r); err != nil {
		return Response{}, nil, err
	}
	code, err := parseStatusCode(raw)
	if err != nil {
		return Response{}, nil, err
	}
	r.StatusCode = code
	body := []byte(r.Body)
	if r.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(r.Body); err != nil {
			return Response{}, nil, err
		}
	}
	return r, body, nil
}

// parseStatusCode reads statusCode as Lambda does: a JSON number, or a string holding
// one ("418"), which handlers written for API Gateway often return.
func parseStatusCode(raw json.RawMessage) (int, error) {
	var n int
	if err := json.Unmarshal(raw, &n); err == nil {
		return n, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("statusCode %s is neither a number nor a string", raw)
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("statusCode %q is not a number", s)
	}
	return n, nil
}
