package mockmodel

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
)

const (
	// DefaultDimensions is the length of embeddings when the request
	// does not set dimensions.
	DefaultDimensions = 256
	// MaxDimensions is the largest dimensions accepted (that of
	// text-embedding-3-large).
	MaxDimensions = 3072
)

type embeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	Dimensions     *int            `json:"dimensions"`
	EncodingFormat *string         `json:"encoding_format"`
	User           *string         `json:"user"` // ignored
}

type embeddingResponse struct {
	Object string          `json:"object"`
	Data   []embeddingData `json:"data"`
	Model  string          `json:"model"`
	Usage  embeddingUsage  `json:"usage"`
}

type embeddingData struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float32, or a base64 string
}

type embeddingUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

func (s *server) embeddings(w http.ResponseWriter, r *http.Request) {
	var req embeddingRequest
	body, rerr := readBody(w, r)
	if rerr == nil {
		rerr = decodeJSON(body, &req, "", body)
	}
	var inputs []input
	if rerr == nil {
		inputs, rerr = s.parseInputs(req.Input, "input", body, false)
	}
	dims := DefaultDimensions
	if rerr == nil && req.Dimensions != nil {
		dims = *req.Dimensions
		switch {
		case dims < 1:
			rerr = badRequest("dimensions", "Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got %d instead.", dims)
		case dims > MaxDimensions:
			rerr = badRequest("dimensions", "Invalid 'dimensions': integer above maximum value. Expected a value <= %d, but got %d instead.", MaxDimensions, dims)
		}
	}
	b64 := false
	if rerr == nil && req.EncodingFormat != nil {
		switch *req.EncodingFormat {
		case "float":
		case "base64":
			b64 = true
		default:
			rerr = badRequest("encoding_format", "Invalid value: '%s'. Supported values are: 'float' and 'base64'.", *req.EncodingFormat)
		}
	}
	if rerr != nil {
		writeError(w, rerr)
		return
	}

	resp := embeddingResponse{Object: "list", Model: s.model, Data: make([]embeddingData, len(inputs))}
	for i, in := range inputs {
		vec := Embed(in.text, dims)
		var e any = vec
		if b64 {
			e = encodeBase64(vec)
		}
		resp.Data[i] = embeddingData{Object: "embedding", Index: i, Embedding: e}
		resp.Usage.PromptTokens += in.tokens
	}
	resp.Usage.TotalTokens = resp.Usage.PromptTokens
	writeJSON(w, http.StatusOK, resp)
}

// Embed returns the mock model's embedding of text: a deterministic unit
// vector of the given length. With seed = SHA-256(text), components 4k to
// 4k+3 come from SHA-256(seed ‖ k), so the same text always gives the same
// vector, and a shorter vector is the renormalised prefix of a longer one
// (as with OpenAI's dimensions parameter). Similar texts do not get similar
// vectors. Token arrays are embedded as the text they decode to.
func Embed(text string, dims int) []float32 {
	if dims < 1 {
		return nil
	}
	seed := sha256.Sum256([]byte(text))
	buf := make([]byte, 0, len(seed)+8)
	var block [sha256.Size]byte
	vec := make([]float64, dims)
	for i := range vec {
		if i%4 == 0 {
			buf = binary.BigEndian.AppendUint64(append(buf[:0], seed[:]...), uint64(i/4))
			block = sha256.Sum256(buf)
		}
		u := binary.BigEndian.Uint64(block[(i%4)*8:])
		// 53 random bits mapped to the open interval (-1, 1).
		vec[i] = (float64(u>>11)+0.5)/(1<<53)*2 - 1
	}
	var norm float64
	for _, v := range vec {
		norm += v * v
	}
	norm = math.Sqrt(norm)
	out := make([]float32, dims)
	for i, v := range vec {
		out[i] = float32(v / norm)
	}
	return out
}

// encodeBase64 encodes a vector as OpenAI does for encoding_format=base64:
// little-endian float32s, base64 (standard alphabet, padded).
func encodeBase64(vec []float32) string {
	raw := make([]byte, 0, 4*len(vec))
	for _, v := range vec {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	return base64.StdEncoding.EncodeToString(raw)
}
