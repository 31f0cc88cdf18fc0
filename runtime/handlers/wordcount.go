package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"unicode"
	"unicode/utf8"
)

// WordCountRequest is the wordcount handler's payload (or send a bare JSON string).
type WordCountRequest struct {
	Text string `json:"text"`
}

// WordCountResponse is the wordcount handler's answer.
type WordCountResponse struct {
	Words   int `json:"words"`
	Letters int `json:"letters"`
}

// WordCount counts the words (runs of non-space characters) and letters (Unicode letters)
// of {"text": "..."} or of a bare JSON string payload: the target function of the
// benchmarking paper.
func WordCount(_ context.Context, payload []byte) ([]byte, error) {
	var text string
	if err := json.Unmarshal(payload, &text); err != nil {
		var req WordCountRequest
		if err := decode(payload, &req); err != nil {
			return nil, invalidPayload("wordcount", `{"text": "..."} or a JSON string`, err)
		}
		if len(payload) == 0 {
			return nil, invalidPayload("wordcount", `{"text": "..."} or a JSON string`, errors.New("empty payload"))
		}
		text = req.Text
	}
	return json.Marshal(countWords(text))
}

func countWords(text string) WordCountResponse {
	var r WordCountResponse
	inWord := false
	for len(text) > 0 {
		c, size := utf8.DecodeRuneInString(text)
		text = text[size:]
		if unicode.IsSpace(c) {
			inWord = false
			continue
		}
		if !inWord {
			r.Words++
			inWord = true
		}
		if unicode.IsLetter(c) {
			r.Letters++
		}
	}
	return r
}
