// Flat ESLint config. Fast, syntax-only typescript-eslint rules (no type information):
// `tsc -p tsconfig.json` already does the type checking, and the dependency rule is
// enforced separately by scripts/check-dependencies.ts.
import { defineConfig, globalIgnores } from "eslint/config"
import tseslint from "typescript-eslint"

export default defineConfig(
  globalIgnores([
    "**/node_modules/",
    "**/.nestfleet/",
    // The Next.js console brings its own lint setup.
    "apps/console/",
    "**/*.d.ts"
  ]),
  {
    files: ["{apps,packages,bench,eval,scripts,test}/**/*.ts"],
    extends: [tseslint.configs.recommended],
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        {
          argsIgnorePattern: "^_",
          varsIgnorePattern: "^_",
          caughtErrorsIgnorePattern: "^_",
          destructuredArrayIgnorePattern: "^_",
          ignoreRestSiblings: true
        }
      ],
      // Effect's type-level code (Layer.Layer<any, any, any>, generic constraints) needs `any`.
      "@typescript-eslint/no-explicit-any": "off",
      // `export declare namespace X {}` is how Effect-style modules attach companion types.
      "@typescript-eslint/no-namespace": ["error", { allowDeclarations: true }],
      // A `let` that closures read before its single assignment (e.g. an id only known once a
      // worker is registered) must stay `let`: as a `const` those reads would hit the TDZ.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }]
    }
  }
)
