// nn/module.cpp: registration, the dotted names, training mode and state load/save of Module
// (nn/module.h, notes/05-transformer.md "Modules and names").
#include "nn/module.h"

#include <set>

#include "core/error.h"

namespace plat {

const char* param_role_name(ParamRole role) {
    switch (role) {
        case ParamRole::weight: return "weight";
        case ParamRole::bias: return "bias";
        case ParamRole::norm: return "norm";
        case ParamRole::embedding: return "embedding";
        case ParamRole::p: return "p";
    }
    return "?";
}

Var Module::register_parameter(const std::string& name, Tensor value, ParamRole role) {
    for (const NamedParameter& p : params_)
        if (p.name == name) fail("Module::register_parameter: the name \"{}\" is already registered", name);
    Var var(std::move(value), true);
    params_.push_back({name, var, role});
    return var;
}

void Module::register_module(const std::string& name, Module& module) {
    for (const auto& c : children_)
        if (c.first == name) fail("Module::register_module: the name \"{}\" is already registered", name);
    children_.push_back({name, &module});
}

void Module::collect(const std::string& prefix, std::vector<NamedParameter>& out) const {
    for (const NamedParameter& p : params_) out.push_back({prefix + p.name, p.var, p.role});
    for (const auto& c : children_) c.second->collect(prefix + c.first + ".", out);
}

std::vector<NamedParameter> Module::named_parameters_with_roles() const {
    std::vector<NamedParameter> out;
    collect("", out);
    return out;
}

NamedParameters Module::named_parameters() const {
    NamedParameters out;
    for (NamedParameter& p : named_parameters_with_roles()) out.push_back({p.name, p.var});
    return out;
}

std::vector<Var> Module::parameters() const {
    std::vector<Var> out;
    for (NamedParameter& p : named_parameters_with_roles()) out.push_back(p.var);
    return out;
}

int64_t Module::num_parameters() const {
    int64_t n = 0;
    for (const Var& v : parameters()) n += v.value().numel();
    return n;
}

void Module::zero_grad() {
    for (Var& v : parameters()) v.zero_grad();
}

void Module::train(bool mode) {
    training_ = mode;
    for (auto& c : children_) c.second->train(mode);
}

StateDict Module::state() const {
    StateDict out;
    for (NamedParameter& p : named_parameters_with_roles()) out[p.name] = p.var.value();
    return out;
}

void Module::load_state(const StateDict& state) {
    std::vector<NamedParameter> params = named_parameters_with_roles();
    // Check everything before copying anything, so a failed load leaves the module untouched.
    std::set<std::string> expected;
    std::string missing, unexpected;
    for (const NamedParameter& p : params) {
        expected.insert(p.name);
        if (!state.count(p.name)) missing += (missing.empty() ? "" : ", ") + p.name;
    }
    for (const auto& kv : state)
        if (!expected.count(kv.first)) unexpected += (unexpected.empty() ? "" : ", ") + kv.first;
    if (!missing.empty() || !unexpected.empty())
        fail("load_state: the tensors do not match the model's parameters; missing: [{}]; unexpected: [{}]. Check "
             "that the checkpoint was written for this model configuration",
             missing, unexpected);
    for (const NamedParameter& p : params) {
        const Tensor& t = state.at(p.name);
        if (t.shape() != p.var.shape())
            fail("load_state: tensor \"{}\" has shape {}; the model expects {}", p.name, t.shape().str(),
                 p.var.shape().str());
    }
    for (NamedParameter& p : params) p.var.value().copy_from(state.at(p.name));
}

void Module::initialize(Generator& gen) {
    reset_parameters(gen);
    for (auto& c : children_) c.second->initialize(gen);
}

}  // namespace plat
