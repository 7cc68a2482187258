package httpapi

import (
	"errors"
	"mime"
	"mime/multipart"
	"net/http"
	"time"

	"mirror/internal/apperr"
	"mirror/internal/auth"
)

type userResponse struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	FullName  string    `json:"full_name"`
	Role      auth.Role `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

func userBody(u auth.User) userResponse {
	return userResponse{ID: u.ID, Email: u.Email, FullName: u.FullName, Role: u.Role, CreatedAt: u.CreatedAt}
}

type registerRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	FullName string `json:"full_name"`
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	req, err := decode[registerRequest](r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	u, err := s.ms.Auth.Register(r.Context(), auth.Registration{Email: req.Email, Password: req.Password, FullName: req.FullName})
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, userBody(u))
}

type loginRequest struct {
	Email    string `json:"email"`
	Username string `json:"username"` // the OAuth2 password form's name for it
	Password string `json:"password"`
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// maxLoginForm bounds the memory a multipart login form may take.
const maxLoginForm = 64 << 10

// handleLogin takes JSON {email, password}, or the OAuth2 password form
// (username, password) that the docs page's Authorize button sends. Besides the
// bearer token it sets the session cookie and its CSRF cookie for browser clients.
//
// A login posted by a browser from another site is refused (403): it would sign the
// victim's browser into the attacker's account (login CSRF). The browser says so in
// Sec-Fetch-Site, or else in Origin (compared with Host); origins in CORS_ORIGINS are
// trusted. Clients that send neither header (curl, SDKs, API clients using the bearer
// token) are not browsers and are unaffected.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if err := s.loginOrigins.Check(r); err != nil {
		s.error(w, r, apperr.Wrap(err, apperr.Forbidden, "Cross-site login refused: this browser request comes from another site (Sec-Fetch-Site or Origin), which is not in CORS_ORIGINS."))
		return
	}
	var req loginRequest
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data" {
		var err error
		if mt == "multipart/form-data" {
			// FastAPI's OAuth2 form takes both encodings. The body is already capped
			// (MAX_REQUEST_BODY_BYTES), so every part stays in memory.
			err = r.ParseMultipartForm(maxLoginForm)
			if r.MultipartForm != nil {
				defer r.MultipartForm.RemoveAll()
			}
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				// Over MAX_REQUEST_BODY_BYTES (a chunked body, with no Content-Length
				// to refuse it up front): 413 as everywhere, not 422.
				s.error(w, r, err)
				return
			}
			if errors.Is(err, multipart.ErrMessageTooLarge) {
				s.error(w, r, apperr.Wrap(err, apperr.PayloadTooLarge, "The login form's fields are larger than the form limit."))
				return
			}
			s.error(w, r, apperr.Wrap(err, apperr.Invalid, "The login form could not be read."))
			return
		}
		req = loginRequest{Username: r.PostForm.Get("username"), Email: r.PostForm.Get("email"), Password: r.PostForm.Get("password")}
		if err := noNUL(req); err != nil {
			s.error(w, r, err)
			return
		}
	} else {
		var err error
		if req, err = decode[loginRequest](r); err != nil {
			s.error(w, r, err)
			return
		}
	}
	email := req.Email
	if email == "" {
		email = req.Username
	}
	var bad []apperr.FieldError
	if email == "" {
		bad = append(bad, apperr.FieldError{Field: "email", Message: "is required"})
	}
	if req.Password == "" {
		bad = append(bad, apperr.FieldError{Field: "password", Message: "is required"})
	}
	if len(bad) > 0 {
		s.error(w, r, apperr.Validation(bad...))
		return
	}
	sess, err := s.ms.Auth.Login(r.Context(), email, req.Password, s.clientKey(r))
	if err != nil {
		if apperr.CodeOf(err) == apperr.RateLimited {
			// The RateLimit headers already set describe the /api/v1 limit, which
			// admitted this request; the refusal is RATE_LIMIT_LOGIN's, whose wait
			// Retry-After gives.
			w.Header().Del("RateLimit")
			w.Header().Del("RateLimit-Policy")
		}
		s.error(w, r, err)
		return
	}
	maxAge := int(time.Until(sess.ExpiresAt).Seconds())
	s.setCookie(w, sessionCookie, sess.Token, maxAge, true)
	s.setCookie(w, csrfCookie, sess.CSRFToken, maxAge, false)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: sess.Token, TokenType: "bearer", ExpiresIn: maxAge})
}

// setCookie sets a session cookie: SameSite=Lax, Secure outside development, and
// HttpOnly for the session itself (the CSRF cookie must be readable by the page).
// maxAge < 0 deletes it.
func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge int, httpOnly bool) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: httpOnly,
		Secure: !s.opts.Development, SameSite: http.SameSiteLaxMode})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.ms.Auth.Logout(r.Context(), principal(r.Context())); err != nil {
		s.error(w, r, err)
		return
	}
	s.setCookie(w, sessionCookie, "", -1, true)
	s.setCookie(w, csrfCookie, "", -1, false)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, userBody(principal(r.Context()).User))
}
