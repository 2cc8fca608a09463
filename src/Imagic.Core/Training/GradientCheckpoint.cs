using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Training;

/// <summary>
/// Gradient checkpointing (Chen et al., 2016, "Training deep nets with sublinear memory cost"): a
/// sub-computation runs forward without recording its graph, so none of its intermediate activations
/// stay alive until backward; backward runs it again with the graph recorded and differentiates that.
/// Peak memory drops to the checkpointed blocks' inputs plus one block's activations, at the cost of
/// a second forward pass per block.
/// </summary>
/// <remarks>
/// TorchSharp has no <c>torch.utils.checkpoint</c>; this is PyTorch's checkpoint built on a custom
/// autograd function. Unlike PyTorch's reentrant variant, the parameters the body trains are inputs of
/// that function, so their gradients reach <c>.grad</c> through the ordinary autograd edges (and
/// accumulate like any other gradient) even when no tensor input requires a gradient, as with LoRA
/// adapters inside a frozen block.
/// <para>The body must be deterministic (the same output when recomputed): no dropout with p &gt; 0 and
/// no random draws. It must read every tensor that needs a gradient either from its arguments or from
/// <c>parameters</c>: a tensor it merely closes over is treated as a constant and gets no gradient.</para>
/// <para>Use one instance per forward pass (it is cheap). It exists to free memory on time: a gradient
/// handed back to the autograd engine is copied by the engine only after the backward callback returns,
/// so the callback cannot free its own managed handles; the next callback of the same instance frees
/// them instead. Kept until the end of the training step, they would hold a second copy of every
/// weight gradient.</para>
/// </remarks>
public sealed class GradientCheckpoint
{
    /// <summary>Managed handles of the gradients the previous backward callback handed to the engine.</summary>
    readonly List<Tensor> _handedBack = new();

    /// <summary>
    /// Computes <c>body(inputs)</c>, keeping only <paramref name="inputs"/> for backward.
    /// With gradients disabled, or when nothing needs a gradient, it simply calls <paramref name="body"/>.
    /// </summary>
    /// <param name="body">The sub-computation; it receives tensors equal to <paramref name="inputs"/>, in order.</param>
    /// <param name="inputs">The tensors the body computes from, e.g. (x, temb) of a resnet.</param>
    /// <param name="parameters">Every trainable tensor the body reads that is not an input, usually the
    /// block's parameters. Those not requiring a gradient are ignored.</param>
    public Tensor Run(Func<Tensor[], Tensor> body, Tensor[] inputs, IEnumerable<Tensor> parameters)
    {
        var trainable = parameters.Where(p => p.requires_grad).ToArray();
        if (!torch.is_grad_enabled() || (trainable.Length == 0 && !inputs.Any(t => t.requires_grad)))
            return body(inputs);
        var args = new object[2 + inputs.Length + trainable.Length];
        args[0] = new Call(this, body);
        args[1] = inputs.Length;
        inputs.CopyTo(args, 2);
        trainable.CopyTo(args, 2 + inputs.Length);
        return CheckpointFunction.apply(args);
    }

    /// <summary>Single-input form of <see cref="Run(Func{Tensor[], Tensor}, Tensor[], IEnumerable{Tensor})"/>.</summary>
    public Tensor Run(Func<Tensor, Tensor> body, Tensor input, IEnumerable<Tensor> parameters) =>
        Run(xs => body(xs[0]), new[] { input }, parameters);

    /// <summary>Frees the handles of gradients handed back earlier (the engine holds its own references by now).</summary>
    void FreeHandedBack()
    {
        foreach (var t in _handedBack) t.Dispose();
        _handedBack.Clear();
    }

    sealed record Call(GradientCheckpoint Owner, Func<Tensor[], Tensor> Body);

    /// <summary>
    /// The autograd node. Arguments: the <see cref="Call"/>, the number of inputs, the inputs, then the
    /// trainable parameters. TorchSharp keeps one shared instance per function type, so all per-call
    /// state lives in the autograd context.
    /// </summary>
    sealed class CheckpointFunction : autograd.SingleTensorFunction<CheckpointFunction>
    {
        public override string Name => nameof(GradientCheckpoint);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var call = (Call)vars[0];
            int inputCount = (int)vars[1];
            var inputs = vars.Skip(2).Take(inputCount).Cast<Tensor>().ToArray();
            var parameters = vars.Skip(2 + inputCount).Cast<Tensor>().ToArray();
            ctx.save_data("call", call);
            ctx.save_data("inputs_require_grad", inputs.Select(t => t.requires_grad).ToArray());
            // Parameters outlive the step, so the managed references suffice; the inputs are intermediate
            // tensors whose managed handles the caller's dispose scope frees, so autograd must keep them.
            ctx.save_data("parameters", parameters);
            ctx.save_for_backward(inputs.ToList());

            // Autograd is off here (the function's own forward), so this records no graph; the scope frees
            // every intermediate now instead of at the end of the caller's forward pass.
            using var scope = torch.NewDisposeScope();
            return call.Body(inputs).MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var call = (Call)ctx.get_data("call");
            var requiresGrad = (bool[])ctx.get_data("inputs_require_grad");
            var parameters = (Tensor[])ctx.get_data("parameters");
            call.Owner.FreeHandedBack();

            var grads = new List<Tensor> { null!, null! }; // the call and the input count get no gradient
            using (var scope = torch.NewDisposeScope())
            using (torch.enable_grad())
            {
                // Fresh leaves cut the recomputed graph at the block's boundary: the gradient reaching the
                // inputs is returned to the autograd engine, which carries it on into the rest of the graph.
                var inputs = ctx.get_saved_variables()
                    .Select((t, i) => t.detach().requires_grad_(requiresGrad[i]))
                    .ToArray();
                var output = call.Body(inputs);
                var wrt = inputs.Where(t => t.requires_grad).Concat(parameters).ToArray();
                var computed = autograd.grad(new[] { output }, wrt, new[] { gradOutput }, allow_unused: true);
                int next = 0;
                foreach (var input in inputs)
                    grads.Add(input.requires_grad ? HandBack(call.Owner, computed[next++]) : null!);
                foreach (var _ in parameters)
                    grads.Add(HandBack(call.Owner, computed[next++]));
            }
            // The engine keeps its own reference to the incoming gradient; this handle would otherwise live to the step's end.
            gradOutput.Dispose();
            return grads;
        }

        /// <summary>A gradient for the engine, or null when the body did not use that tensor.</summary>
        static Tensor HandBack(GradientCheckpoint owner, Tensor grad)
        {
            if (grad.IsInvalid) return null!;
            // Out of the backward scope, which ends before the engine takes the tensor; the owner frees it at
            // its next callback, and the caller's scope at the latest.
            owner._handedBack.Add(grad.MoveToOuterDisposeScope());
            return grad;
        }
    }
}
