//! Rules of the upstream graph (`spec/digest.md` §4.3).

use std::collections::{BTreeMap, BTreeSet};

/// A repository has at most this many direct upstreams.
pub const MAX_DIRECT_UPSTREAMS: usize = 10;
/// At most this many repositories are searched when resolving through upstreams.
pub const MAX_SEARCHED_REPOSITORIES: usize = 25;

/// Returns a cycle through the upstream graph reachable from `start`, as the list of repository
/// names along it (first == last), or `None` when the graph reachable from `start` is acyclic.
///
/// `graph` maps each repository of a domain to its ordered upstreams.
#[must_use]
pub fn find_cycle(graph: &BTreeMap<String, Vec<String>>, start: &str) -> Option<Vec<String>> {
    fn visit<'a>(
        graph: &'a BTreeMap<String, Vec<String>>,
        node: &'a str,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = path[at..].iter().map(|s| (*s).to_owned()).collect();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(graph, next, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node);
        None
    }
    visit(graph, start, &mut Vec::new(), &mut BTreeSet::new())
}

/// The order in which a read searches `start` and its upstreams: the repository itself, then
/// each upstream in list order, depth-first, each repository once, at most
/// [`MAX_SEARCHED_REPOSITORIES`] in all.
#[must_use]
pub fn search_order(graph: &BTreeMap<String, Vec<String>>, start: &str) -> Vec<String> {
    fn visit(graph: &BTreeMap<String, Vec<String>>, node: &str, out: &mut Vec<String>) {
        if out.len() >= MAX_SEARCHED_REPOSITORIES || out.iter().any(|n| n == node) {
            return;
        }
        out.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            visit(graph, next, out);
        }
    }
    let mut out = Vec::new();
    visit(graph, start, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        edges
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    #[test]
    fn search_is_depth_first_in_list_order() {
        // The User Guide's example: my_repo -> A -> C -> D -> E -> B.
        let g = graph(&[("my_repo", &["A", "B"]), ("A", &["C", "E"]), ("C", &["D"])]);
        assert_eq!(
            search_order(&g, "my_repo"),
            ["my_repo", "A", "C", "D", "E", "B"]
        );
    }

    #[test]
    fn a_cycle_is_found_and_an_acyclic_diamond_is_not() {
        let diamond = graph(&[("a", &["b", "c"]), ("b", &["d"]), ("c", &["d"])]);
        assert_eq!(find_cycle(&diamond, "a"), None);
        let cyclic = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])]);
        assert_eq!(
            find_cycle(&cyclic, "a").as_deref(),
            Some(&["a", "b", "c", "a"].map(String::from)[..])
        );
    }

    #[test]
    fn search_stops_after_twenty_five_repositories() {
        let names: Vec<String> = (0..40).map(|i| format!("r{i}")).collect();
        let g: BTreeMap<String, Vec<String>> = names
            .windows(2)
            .map(|w| (w[0].clone(), vec![w[1].clone()]))
            .collect();
        assert_eq!(search_order(&g, "r0").len(), MAX_SEARCHED_REPOSITORIES);
    }
}
