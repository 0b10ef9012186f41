"""Registry-specific advice for image-pull failures (not a rule module)."""

from __future__ import annotations

from amldoctor.k8s.images import ImageRef


def pull_fix(
    ref: ImageRef, category: str, image: str, pull_secrets: list[str], missing_secrets: list[str]
) -> str:
    """Concrete next steps for one failed pull, by registry and failure category."""
    acr = ref.acr_name
    repo_tag = f"{ref.repository}:{ref.tag or 'latest'}"
    steps: list[str] = []
    if missing_secrets:
        steps.append(
            f"imagePullSecrets {', '.join(missing_secrets)} do not exist in the namespace: create "
            "them (`kubectl create secret docker-registry ...`) or drop the reference."
        )
    if category in ("not-found", "manifest-unknown"):
        if acr:
            steps.append(
                f"Check the repository and tag exist: `az acr repository show-tags -n {acr} "
                f"--repository {ref.repository}`; fix the image reference {image} or push the tag."
            )
        else:
            steps.append(
                f"Check that {repo_tag} exists in {ref.registry} (typo in the name or tag?), or "
                "push it."
            )
    elif category == "unauthorized":
        if acr:
            steps.append(
                f"Give the AKS kubelet identity AcrPull on {acr}: `az aks update -n <cluster> -g "
                f"<resource-group> --attach-acr {acr}` (or `az role assignment create --assignee "
                "<kubelet-identity-client-id> "
                f"--role AcrPull --scope $(az acr show -n {acr} --query id -o tsv)`); verify with "
                f"`az aks check-acr -n <cluster> -g <resource-group> --acr {ref.registry}`. For "
                "AML workloads the compute's managed identity needs AcrPull too."
            )
        elif ref.registry == "docker.io":
            steps.append(
                "Private Docker Hub repository: add an imagePullSecret with a Docker Hub access "
                "token."
            )
        else:
            where = f" (current: {', '.join(pull_secrets)})" if pull_secrets else ""
            steps.append(
                f"Add or fix the imagePullSecret for {ref.registry}{where}: its credentials are "
                "refused."
            )
    elif category == "rate-limit":
        if ref.registry == "docker.io":
            steps.append(
                "Docker Hub throttles anonymous pulls: import the image into your ACR (`az acr "
                "import -n <acr> "
                f"--source docker.io/{repo_tag}`) and pull it from there, or pull with an "
                "authenticated imagePullSecret."
            )
        else:
            steps.append(
                f"{ref.registry} throttles pulls: use a mirror or an authenticated pull secret, "
                "and retry later."
            )
    elif category == "network":
        if acr:
            steps.append(
                f"Allow egress from the nodes to {ref.registry} and {acr}.<region>.data.azurecr.io "
                "(443); for a "
                "private ACR check the private endpoint and the privatelink.azurecr.io DNS zone "
                f"link: `az aks check-acr -n <cluster> -g <resource-group> --acr {ref.registry}`."
            )
        elif ref.registry == "mcr.microsoft.com":
            steps.append("Allow egress to mcr.microsoft.com and *.data.mcr.microsoft.com (443).")
        else:
            steps.append(
                f"Check DNS and egress from the node to {ref.registry} (firewall, proxy, NSG)."
            )
    elif category == "platform":
        steps.append(
            "Build or pick a multi-arch image (or one for the node's architecture, e.g. "
            "linux/amd64)."
        )
    elif category == "never-pull":
        steps.append("Set imagePullPolicy: IfNotPresent, or pre-load the image onto the node.")
    else:
        steps.append(
            f"Run `kubectl describe pod` for the full pull error, and try `docker pull {image}` "
            "from a machine with the same network."
        )
    return " ".join(steps)
