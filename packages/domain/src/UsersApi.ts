/** Managing users: admins only. A user changes their own password through the session API. */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { RequireAdmin } from "./Access.js"
import { Email, Password, Roles, User, UserId, UserName } from "./Users.js"

export class UserList extends Schema.Class<UserList>("UserList")({
  items: Schema.Array(User)
}) {}

export class NewUser extends Schema.Class<NewUser>("NewUser")({
  email: Email,
  name: UserName,
  password: Password,
  roles: Roles
}) {}

export class UserChanges extends Schema.Class<UserChanges>("UserChanges")({
  name: Schema.optional(UserName),
  roles: Schema.optional(Roles),
  disabled: Schema.optional(Schema.Boolean)
}) {}

export class PasswordReset extends Schema.Class<PasswordReset>("PasswordReset")({
  password: Password
}) {}

export class UserNotFound extends Schema.TaggedError<UserNotFound>()(
  "UserNotFound",
  { message: Schema.String, id: UserId },
  HttpApiSchema.annotations({ status: 404, description: "No user has this id." })
) {}

export class EmailTaken extends Schema.TaggedError<EmailTaken>()(
  "EmailTaken",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409, description: "Another user has this email (whatever its case)." })
) {}

export class LastAdmin extends Schema.TaggedError<LastAdmin>()(
  "LastAdmin",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409, description: "The change would leave no enabled admin." })
) {}

const UserPath = Schema.Struct({ id: UserId })

export class UsersApi extends HttpApiGroup.make("users")
  .add(
    HttpApiEndpoint.get("list", "/users")
      .addSuccess(UserList)
      .annotate(OpenApi.Summary, "Every user, oldest first")
  )
  .add(
    HttpApiEndpoint.post("create", "/users")
      .setPayload(NewUser)
      .addSuccess(User, { status: 201 })
      .addError(EmailTaken)
      .annotate(OpenApi.Summary, "Add a user")
  )
  .add(
    HttpApiEndpoint.patch("update", "/users/:id")
      .setPath(UserPath)
      .setPayload(UserChanges)
      .addSuccess(User)
      .addError(UserNotFound)
      .addError(LastAdmin)
      .annotate(OpenApi.Summary, "Rename, change roles, disable or enable; disabling signs the user out")
  )
  .add(
    HttpApiEndpoint.post("resetPassword", "/users/:id/password")
      .setPath(UserPath)
      .setPayload(PasswordReset)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(UserNotFound)
      .annotate(OpenApi.Summary, "Set a user's password; signs them out everywhere")
  )
  .middleware(RequireAdmin)
  .annotate(OpenApi.Title, "Users")
{}
