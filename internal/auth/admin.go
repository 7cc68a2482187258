package auth

import (
	"context"
	"fmt"

	"mirror/internal/apperr"
)

// RoleStore is what the operator's role changes need of the store.
type RoleStore interface {
	// UserByEmail returns the user and password hash; unknown is apperr.NotFound.
	UserByEmail(ctx context.Context, email string) (User, string, error)
	// SetRole stores role for the user with id; unknown is apperr.NotFound.
	SetRole(ctx context.Context, userID string, role Role) error
	// UsersWithRole lists the users whose stored role is role, oldest first.
	UsersWithRole(ctx context.Context, role Role) ([]User, error)
}

// GrantAdmin gives the admin role to the existing account of email. It is the
// operator's step (`mirror admin grant`), never a request's: registration does not
// prove that the registrant owns the address, so the operator must check that the
// account is the intended person's (the returned user's id and creation time help;
// an account created before its owner registered is someone else's). admins is
// ADMIN_EMAILS: when it is set, an address not in it is refused, since the role
// would have no effect. Errors: validation_error for an address that is not plain
// ASCII, not_found when no account has it.
func GrantAdmin(ctx context.Context, st RoleStore, email string, admins []string) (User, error) {
	return setRole(ctx, st, email, RoleAdmin, admins)
}

// RevokeAdmin makes the account of email a plain user again.
func RevokeAdmin(ctx context.Context, st RoleStore, email string) (User, error) {
	return setRole(ctx, st, email, RoleUser, nil)
}

func setRole(ctx context.Context, st RoleStore, email string, role Role, admins []string) (User, error) {
	norm, ok := NormalizeEmail(email)
	if !ok {
		return User{}, apperr.Validation(apperr.FieldError{Field: "email", Message: "must be a valid email address, in ASCII"})
	}
	allowed, err := NormalizeAdminEmails(admins)
	if err != nil {
		return User{}, err
	}
	if role == RoleAdmin && !adminAllowed(allowed, norm) {
		return User{}, apperr.Errorf(apperr.Forbidden, "%s is not in ADMIN_EMAILS, which limits who may be an admin; add it there first.", norm)
	}
	u, _, err := st.UserByEmail(ctx, norm)
	if err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return User{}, apperr.Errorf(apperr.NotFound, "No account has the email %s; it must register first.", norm)
		}
		return User{}, fmt.Errorf("set role: %w", err)
	}
	if err := st.SetRole(ctx, u.ID, role); err != nil {
		return User{}, fmt.Errorf("set role: %w", err)
	}
	u.Role = role
	return u, nil
}

// Admins lists the accounts whose stored role is admin, oldest first, each with
// the role in effect (a user when a set ADMIN_EMAILS does not list it).
func Admins(ctx context.Context, st RoleStore, admins []string) ([]User, error) {
	allowed, err := NormalizeAdminEmails(admins)
	if err != nil {
		return nil, err
	}
	us, err := st.UsersWithRole(ctx, RoleAdmin)
	if err != nil {
		return nil, fmt.Errorf("list admins: %w", err)
	}
	for i := range us {
		if !adminAllowed(allowed, us[i].Email) {
			us[i].Role = RoleUser
		}
	}
	return us, nil
}
