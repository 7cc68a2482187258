-- +goose Up
-- Registration used to store role 'admin' for any address in ADMIN_EMAILS, so the
-- first to register such an address (even spelled "Admin@Example.com ") became its
-- admin. The role is now granted only by the operator (`mirror admin grant EMAIL`):
-- every admin stored before is reset, since none of them was proven.
UPDATE users SET role = 'user' WHERE role = 'admin';

-- +goose Down
-- Nothing to undo: the reset roles are not recorded.
SELECT 1;
