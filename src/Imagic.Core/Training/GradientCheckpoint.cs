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
/// </remarks>
public static class GradientCheckpoint
{
    /// <summary>
    /// Computes <c>body(inputs)</c>, keeping only <paramref name="inputs"/> for backward.
    /// With gradients disabled, or when nothing needs a gradient, it simply calls <paramref name="body"/>.
    /// </summary>
    /// <param name="body">The sub-computation; it receives tensors equal to <paramref name="inputs"/>, in order.</param>
    /// <param name="inputs">The tensors the body computes from, e.g. (x, temb) of a resnet.</param>
    /// <param name="parameters">Every trainable tensor the body reads that is not an input, usually the
    /// block's parameters. Those not requiring a gradient are ignored.</param>
    public static Tensor Run(Func<Tensor[], Tensor> body, Tensor[] inputs, IEnumerable<Tensor> parameters)
    {
        var trainable = parameters.Where(p => p.requires_grad).ToArray();
        if (!torch.is_grad_enabled() || (trainable.Length == 0 && !inputs.Any(t => t.requires_grad)))
            return body(inputs);
        var args = new object[2 + inputs.Length + trainable.Length];
        args[0] = body;
        args[1] = inputs.Length;
        inputs.CopyTo(args, 2);
        trainable.CopyTo(args, 2 + inputs.Length);
        return CheckpointFunction.apply(args);
    }

    /// <summary>Single-input form of <see cref="Run(Func{Tensor[], Tensor}, Tensor[], IEnumerable{Tensor})"/>.</summary>
    public static Tensor Run(Func<Tensor, Tensor> body, Tensor input, IEnumerable<Tensor> parameters) =>
        Run(xs => body(xs[0]), new[] { input }, parameters);

    /// <summary>
    /// The autograd node. Arguments: the body, the number of inputs, the inputs, then the trainable
    /// parameters. TorchSharp keeps one shared instance per function type, so all per-call state lives
    /// in the autograd context.
    /// </summary>
    sealed class CheckpointFunction : autograd.SingleTensorFunction<CheckpointFunction>
    {
        public override string Name => nameof(GradientCheckpoint);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var body = (Func<Tensor[], Tensor>)vars[0];
            int inputCount = (int)vars[1];
            var inputs = vars.Skip(2).Take(inputCount).Cast<Tensor>().ToArray();
            var parameters = vars.Skip(2 + inputCount).Cast<Tensor>().ToArray();
            ctx.save_data("body", body);
            ctx.save_data("inputs_require_grad", inputs.Select(t => t.requires_grad).ToArray());
            // Parameters outlive the step, so the managed references suffice; the inputs are intermediate
            // tensors whose managed handles the caller's dispose scope frees, so autograd must keep them.
            ctx.save_data("parameters", parameters);
            ctx.save_for_backward(inputs.ToList());

            // Autograd is off here (the function's own forward), so this records no graph; the scope frees
            // every intermediate now instead of at the end of the caller's forward pass.
            using var scope = torch.NewDisposeScope();
            return body(inputs).MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var body = (Func<Tensor[], Tensor>)ctx.get_data("body");
            var requiresGrad = (bool[])ctx.get_data("inputs_require_grad");
            var parameters = (Tensor[])ctx.get_data("parameters");

            var grads = new List<Tensor> { null!, null! }; // the body and the input count get no gradient
            using (var scope = torch.NewDisposeScope())
            using (torch.enable_grad())
            {
                // Fresh leaves cut the recomputed graph at the block's boundary: the gradient reaching the
                // inputs is returned to the autograd engine, which carries it on into the rest of the graph.
                var inputs = ctx.get_saved_variables()
                    .Select((t, i) => t.detach().requires_grad_(requiresGrad[i]))
                    .ToArray();
                var output = body(inputs);
                var wrt = inputs.Where(t => t.requires_grad).Concat(parameters).ToArray();
                var computed = autograd.grad(new[] { output }, wrt, new[] { gradOutput }, allow_unused: true);
                int next = 0;
                foreach (var input in inputs)
                    grads.Add(input.requires_grad ? Keep(computed[next++]) : null!);
                foreach (var _ in parameters)
                    grads.Add(Keep(computed[next++]));
            }
            return grads;
        }

        /// <summary>Moves a gradient out of the backward scope, or null when the body did not use that tensor.</summary>
        static Tensor Keep(Tensor grad) => grad.IsInvalid ? null! : grad.MoveToOuterDisposeScope();
    }
}
