// Policy rule parsing and evaluation. See policy_rules.h.
#include "api/policy_rules.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace strata::api {
namespace {

// Deeper rule:NAME chains than this are taken as a loop, and fail closed.
constexpr int kMaxDepth = 16;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

class Constant : public PolicyRule {
 public:
  explicit Constant(bool v) : v_(v) {}
  bool Evaluate(const PolicyCredentials&, const PolicyTarget&, const Lookup&,
                int) const override {
    return v_;
  }

 private:
  bool v_;
};

class Not : public PolicyRule {
 public:
  explicit Not(std::shared_ptr<const PolicyRule> r) : r_(std::move(r)) {}
  bool Evaluate(const PolicyCredentials& c, const PolicyTarget& t,
                const Lookup& l, int d) const override {
    return !r_->Evaluate(c, t, l, d);
  }

 private:
  std::shared_ptr<const PolicyRule> r_;
};

class AndOr : public PolicyRule {
 public:
  AndOr(bool is_and, std::vector<std::shared_ptr<const PolicyRule>> rs)
      : and_(is_and), rs_(std::move(rs)) {}
  bool Evaluate(const PolicyCredentials& c, const PolicyTarget& t,
                const Lookup& l, int d) const override {
    for (const auto& r : rs_)
      if (r->Evaluate(c, t, l, d) != and_) return !and_;
    return and_;
  }

 private:
  bool and_;
  std::vector<std::shared_ptr<const PolicyRule>> rs_;
};

// kind:match, with match a literal or %(target_attribute)s.
class Check : public PolicyRule {
 public:
  Check(std::string kind, std::string match)
      : kind_(std::move(kind)), match_(std::move(match)) {}
  bool Evaluate(const PolicyCredentials& c, const PolicyTarget& t,
                const Lookup& l, int d) const override {
    if (kind_ == "rule") {
      const PolicyRule* r = l(match_);
      return r && d < kMaxDepth && r->Evaluate(c, t, l, d + 1);
    }
    std::string want = match_;
    if (want.size() > 4 && want.rfind("%(", 0) == 0 &&
        want.compare(want.size() - 2, 2, ")s") == 0) {
      auto it = t.find(want.substr(2, want.size() - 4));
      if (it == t.end()) return false;
      want = it->second;
    }
    if (kind_ == "role") {
      const std::string w = Lower(want);
      return std::any_of(c.roles.begin(), c.roles.end(),
                         [&](const std::string& r) { return Lower(r) == w; });
    }
    if (kind_ == "is_admin") return (Lower(want) == "true") == c.is_admin;
    if (kind_ == "project_id") return !want.empty() && want == c.project_id;
    if (kind_ == "user_id") return !want.empty() && want == c.user_id;
    return false;
  }

 private:
  std::string kind_, match_;
};

// Recursive descent over the tokens of one rule.
class Parser {
 public:
  // Words split on white space, each word's leading '(' and trailing ')'
  // peeled off as tokens of their own, as oslo.policy does: the
  // parentheses of "%(project_id)s" stay in their check.
  explicit Parser(const std::string& text) : text_(text) {
    std::istringstream words(text);
    std::string w;
    while (words >> w) {
      size_t b = 0, e = w.size();
      while (b < e && w[b] == '(') tokens_.push_back("("), ++b;
      size_t closing = 0;
      while (e > b && w[e - 1] == ')') ++closing, --e;
      if (e > b) tokens_.push_back(w.substr(b, e - b));
      tokens_.insert(tokens_.end(), closing, ")");
    }
  }

  Result<std::shared_ptr<const PolicyRule>> Parse() {
    if (tokens_.empty()) return Rule(std::make_shared<Constant>(true));
    auto r = Or();
    if (!r.ok()) return r;
    if (pos_ != tokens_.size())
      return Bad("unexpected '" + tokens_[pos_] + "'");
    return r;
  }

 private:
  using Rule = Result<std::shared_ptr<const PolicyRule>>;

  Status Bad(const std::string& why) const {
    return Status::InvalidArgument("policy rule \"" + text_ + "\": " + why);
  }
  bool Accept(const char* word) {
    if (pos_ < tokens_.size() && Lower(tokens_[pos_]) == word) {
      ++pos_;
      return true;
    }
    return false;
  }
  Rule Or() { return Chain(true); }
  Rule And() { return Chain(false); }
  // A chain of `or`s (over And) or of `and`s (over Not).
  Rule Chain(bool is_or) {
    std::vector<std::shared_ptr<const PolicyRule>> parts;
    do {
      auto r = is_or ? And() : NotExpr();
      if (!r.ok()) return r;
      parts.push_back(*r);
    } while (Accept(is_or ? "or" : "and"));
    if (parts.size() == 1) return parts[0];
    return Rule(std::make_shared<AndOr>(!is_or, std::move(parts)));
  }
  Rule NotExpr() {
    if (Accept("not")) {
      auto r = NotExpr();
      if (!r.ok()) return r;
      return Rule(std::make_shared<Not>(*r));
    }
    return Atom();
  }
  Rule Atom() {
    if (pos_ >= tokens_.size()) return Bad("ends where a check was expected");
    const std::string tok = tokens_[pos_++];
    if (tok == "(") {
      auto r = Or();
      if (!r.ok()) return r;
      if (!Accept(")")) return Bad("a '(' is not closed");
      return r;
    }
    if (tok == "@") return Rule(std::make_shared<Constant>(true));
    if (tok == "!") return Rule(std::make_shared<Constant>(false));
    const size_t colon = tok.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == tok.size())
      return Bad("'" + tok + "' is not a check (kind:value)");
    const std::string kind = tok.substr(0, colon);
    if (kind != "role" && kind != "rule" && kind != "is_admin" &&
        kind != "project_id" && kind != "user_id")
      return Bad("unknown check kind '" + kind + "'");
    return Rule(std::make_shared<Check>(kind, tok.substr(colon + 1)));
  }

  std::string text_;
  std::vector<std::string> tokens_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::shared_ptr<const PolicyRule>> ParsePolicyRule(
    const std::string& text) {
  return Parser(text).Parse();
}

}  // namespace strata::api
