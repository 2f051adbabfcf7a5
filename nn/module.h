// nn/module.h: the Module base class, as in PyTorch: a module owns parameters and submodules,
// each registered under a name, and `named_parameters()` lists every parameter under its dotted
// path ("transformer.h.0.attn.c_attn.weight"), the names checkpoints and the PyTorch mirror use
// (notes/05-transformer.md, "Modules and names").
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "autograd/var.h"
#include "core/random.h"
#include "core/tensor.h"

namespace plat {

// What a parameter is. It decides the optimizer group (nn/optim.cpp, make_param_groups:
// weight decay for `weight` only) and which parameters are clamped after a step (`p`).
enum class ParamRole {
    weight,     // a Linear weight [out, in]
    bias,       // any bias
    norm,       // a LayerNorm weight (gain)
    embedding,  // token / position embeddings, the class token
    p,          // a learnable p-Laplacian exponent [H]
};
const char* param_role_name(ParamRole role);

// A parameter with its full dotted name and its role.
struct NamedParameter {
    std::string name;
    Var var;
    ParamRole role;
};

using NamedParameters = std::vector<std::pair<std::string, Var>>;
using StateDict = std::map<std::string, Tensor>;  // name -> tensor (a checkpoint's contents)

class Module {
public:
    Module() = default;
    virtual ~Module() = default;
    // Submodules are registered by address, so a module never moves or copies.
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    // Every parameter, as PyTorch orders them: a module's own parameters in registration order,
    // then each submodule's, depth first, in registration order.
    NamedParameters named_parameters() const;
    std::vector<NamedParameter> named_parameters_with_roles() const;
    std::vector<Var> parameters() const;
    int64_t num_parameters() const;  // total number of scalars

    void zero_grad();  // forget every parameter's gradient (PyTorch's set_to_none)

    // Training mode (the default) or evaluation mode, set for this module and every submodule.
    // Only Dropout looks at it.
    void train(bool mode = true);
    void eval() { train(false); }
    bool is_training() const { return training_; }

    // name -> parameter tensor. The tensors share storage with the parameters (as PyTorch's
    // state_dict()); clone them for a snapshot that later steps do not change.
    StateDict state() const;
    // Copies each tensor into the parameter of that name. Throws plat::Error naming the missing
    // and the unexpected names, or the first tensor whose shape differs (expected and got).
    void load_state(const StateDict& state);

    // Fills every parameter from `gen`, visiting them in named_parameters() order: each module
    // calls its own reset_parameters(), then its submodules'. The same seed gives the same
    // parameters on every machine (core/random.h).
    void initialize(Generator& gen);

protected:
    // Registers a parameter (requires_grad = true) and returns its Var (a handle: the module
    // and the caller share the same node).
    Var register_parameter(const std::string& name, Tensor value, ParamRole role);
    // Registers a submodule, a member of the derived class. Its parameters appear as name.param.
    void register_module(const std::string& name, Module& module);
    // Fills this module's own parameters (not its submodules'); the default does nothing.
    virtual void reset_parameters(Generator& gen) {}

private:
    void collect(const std::string& prefix, std::vector<NamedParameter>& out) const;

    std::vector<NamedParameter> params_;                     // own parameters, local names
    std::vector<std::pair<std::string, Module*>> children_;  // submodules, local names
    bool training_ = true;
};

}  // namespace plat
